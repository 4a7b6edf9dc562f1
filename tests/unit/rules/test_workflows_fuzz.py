"""Any text offered as a workflow policy gives a policy or a `PolicyError` naming the key
and its line, and a policy that loads drives an ordinary loan's year without raising.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
from fuzz_support import config_texts, replay_kept, run_year
from hypothesis import given
from test_policy_fuzz import check_policy_text

from rules.pack import default_pack
from rules.policy import load_policy
from rules.workflows import parse_workflow_policy

TARGET = "workflows"
PACK = default_pack()
POLICY = load_policy()
DEFAULT_TEXT = (resources.files("rules") / "policies" / "workflows.yaml").read_text("utf-8")

workflow_texts = config_texts(DEFAULT_TEXT)


def check_workflows(data: bytes) -> None:
    check_policy_text(data, parse_workflow_policy, lambda flows: run_year(PACK, POLICY, flows))


@pytest.mark.fuzz
@given(workflow_texts)
def test_any_workflow_text_loads_and_runs_or_is_refused_naming_the_key(
    fuzz_corpus: Any, text: str
) -> None:
    data = text.encode("utf-8", errors="surrogatepass")
    with fuzz_corpus.watch(TARGET, data):
        check_workflows(data)


def test_kept_workflow_inputs_still_load_or_are_refused(fuzz_corpus: Any) -> None:
    replay_kept(fuzz_corpus, TARGET, check_workflows)
