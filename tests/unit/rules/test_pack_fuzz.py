"""Any text offered as a rule pack gives a pack or a located `RulePackError`, and a pack
that loads judges an ordinary loan's year without raising.

Packs also arrive live on the rules topic, so this is the worker's guard against a
hostile or broken pack: anything but `RulePackError` would stop the rules feed.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
import yaml
from fuzz_support import config_texts, mutated_document, replay_kept, run_year, yaml_text
from hypothesis import given
from hypothesis import strategies as st
from test_lang_fuzz import expressions

from rules.pack import RulePackError, load_pack_text
from rules.policy import load_policy
from rules.workflows import load_workflow_policy

TARGET = "rule_pack"
SOURCE = "fuzz.yaml"
POLICY = load_policy()
WORKFLOWS = load_workflow_policy()
DEFAULT_TEXT = (resources.files("rules") / "packs" / "default.yaml").read_text("utf-8")
DEFAULT = yaml.safe_load(DEFAULT_TEXT)
UNLOCATED = ("larger than", "empty pack", "not UTF-8 text", "not a rule pack")
"""Problems of the text as a whole: they have no line, rule or key to name."""

RULE_TEXT_KEYS = ("condition", "resolve_when", "episode_key")


def check_pack(data: bytes) -> None:
    """The property: a pack that runs, or a refusal whose every problem is located."""
    text = data.decode("utf-8", errors="surrogatepass")
    try:
        pack = load_pack_text(text, source=SOURCE)
    except RulePackError as exc:
        for problem in exc.problems:
            rendered = problem.render(SOURCE)
            assert rendered.startswith(SOURCE), rendered
            located = problem.line is not None or problem.key is not None
            assert located or problem.reason.startswith(UNLOCATED), rendered
        return
    run_year(pack, POLICY, WORKFLOWS)


@st.composite
def _rules_with_new_text(draw: st.DrawFn) -> Any:
    """The default pack with a few conditions, keys or messages rewritten."""
    document = draw(mutated_document(DEFAULT, most=2))
    rules = document.get("rules") if isinstance(document, dict) else None
    if isinstance(rules, list) and rules:
        for _ in range(draw(st.integers(1, 3))):
            rule = rules[draw(st.integers(0, len(rules) - 1))]
            if isinstance(rule, dict):
                key = draw(st.sampled_from(RULE_TEXT_KEYS))
                rule[key] = draw(expressions)
    return document


pack_texts = config_texts(DEFAULT_TEXT, _rules_with_new_text().map(yaml_text))


@pytest.mark.fuzz
@given(pack_texts)
def test_any_pack_text_loads_and_runs_or_is_refused_with_a_place(
    fuzz_corpus: Any, text: str
) -> None:
    data = text.encode("utf-8", errors="surrogatepass")
    with fuzz_corpus.watch(TARGET, data):
        check_pack(data)


def test_kept_pack_inputs_still_load_or_are_refused(fuzz_corpus: Any) -> None:
    replay_kept(fuzz_corpus, TARGET, check_pack)
