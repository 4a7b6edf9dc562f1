"""Any text offered as a delinquency policy gives a policy or a `PolicyError` naming the
key and its line, and a policy that loads judges an ordinary loan's year without raising.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources
from typing import Any, TypeVar

import pytest
from fuzz_support import config_texts, replay_kept, run_year
from hypothesis import given

from rules.pack import default_pack
from rules.policy import PolicyError, parse_policy
from rules.workflows import load_workflow_policy

TARGET = "policy"
SOURCE = "fuzz.yaml"
PACK = default_pack()
WORKFLOWS = load_workflow_policy()
DEFAULT_TEXT = (resources.files("rules") / "policies" / "default.yaml").read_text("utf-8")
LOCATED = re.compile(
    rf"{re.escape(SOURCE)}(:\d+: not valid YAML: |: not valid YAML: "
    r"|: expected a mapping of policy keys at the top level"
    r"|: a value refers to itself"
    r"|:\d+: \S+: |: [a-z_]+: required key is missing)"
)
"""A refusal names the file, then the YAML fault or the key at fault and its line."""

policy_texts = config_texts(DEFAULT_TEXT)
_P = TypeVar("_P")


def check_policy_text(
    data: bytes, parse: Callable[[str, str], _P], run: Callable[[_P], Any]
) -> None:
    """The property: a policy that ``run`` takes through a year, or a located refusal."""
    text = data.decode("utf-8", errors="surrogatepass")
    try:
        policy = parse(text, SOURCE)
    except PolicyError as exc:
        message = str(exc)
        assert LOCATED.match(message), message
        return
    run(policy)


def check_policy(data: bytes) -> None:
    check_policy_text(data, parse_policy, lambda policy: run_year(PACK, policy, WORKFLOWS))


@pytest.mark.fuzz
@given(policy_texts)
def test_any_policy_text_loads_and_runs_or_is_refused_naming_the_key(
    fuzz_corpus: Any, text: str
) -> None:
    data = text.encode("utf-8", errors="surrogatepass")
    with fuzz_corpus.watch(TARGET, data):
        check_policy(data)


def test_kept_policy_inputs_still_load_or_are_refused(fuzz_corpus: Any) -> None:
    replay_kept(fuzz_corpus, TARGET, check_policy)
