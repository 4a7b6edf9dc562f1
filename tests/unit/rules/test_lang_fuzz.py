"""Any rule text compiles or is refused with an `ExpressionError`, and what compiles
evaluates on real loans without raising, to values the engine can keep.

The contexts are taken from an ordinary loan stepped by the engine (just disbursed,
paid, late, promised, partly repaid, deep in arrears), not built by hand, so a
vocabulary value that is not what its declared type says is found here too.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fuzz_support import NOW, SCENARIO, damaged_text, replay_kept
from hypothesis import given
from hypothesis import strategies as st
from test_lang_properties import _numbers

from rules.core import Engine, LoanRecord
from rules.events import Event
from rules.lang import ExpressionError, compile_condition, compile_expression, compile_template
from rules.loan import LoanState
from rules.pack import default_pack
from rules.policy import load_policy
from rules.vocabulary import VOCABULARY, RuleContext
from rules.workflows import load_workflow_policy

TARGET = "rule_expression"
KINDS = ("condition", "expression", "template")
SCORES = ({}, {"pd": 0.97, "anomaly": 1.0, "intent_hardship": 0.5})


def _contexts() -> list[RuleContext]:
    """Snapshots of one loan at every event of its year and at every 60th tick."""
    engine = Engine(default_pack(), load_policy(), load_workflow_policy())
    seen: list[tuple[LoanState, Event | None]] = []
    steps = iter(range(len(SCENARIO)))

    def snapshot(loan: LoanState, event: Event | None) -> None:
        if event is not None or next(steps) % 60 == 0:
            seen.append((copy.deepcopy(loan), event))

    record: LoanRecord | None = None
    for item in SCENARIO:
        record, _ = engine.step(record, item, NOW, scorer=snapshot)  # type: ignore[arg-type]
    return [
        RuleContext(loan, loan.features, event, scores, NOW.date(), NOW)
        for loan, event in seen
        for scores in SCORES
    ]


def _names(*kinds: str) -> list[str]:
    return sorted(name for name, var in VOCABULARY.items() if var.type in kinds)


NUMBER_LITERALS = [
    "0",
    "-0.0",
    "1",
    "0.1",
    "1e308",
    "1e999",
    "1e-320",
    "9223372036854775807",
    "9" * 400,
    "round(1e308)",
    "(1 / 0)",
]
TEXT_LITERALS = ["'M1'", "'M6+'", "''", "'partial'", "'逾期'", "'\\ud800'", "'x' * 3"]
number_leaf = st.one_of(st.sampled_from(_names("int", "float")), st.sampled_from(NUMBER_LITERALS))


def _number_tree(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """The shapes of test_lang_properties, plus extreme roundings and long products."""
    return st.one_of(
        _numbers(inner),
        st.tuples(inner, st.sampled_from(["-400", "400", str(10**20)])).map(
            lambda t: f"round({t[0]}, {t[1]})"
        ),
        st.lists(inner, min_size=3, max_size=6).map(lambda xs: f"max({', '.join(xs)})"),
        st.lists(number_leaf, min_size=2, max_size=24).map(lambda xs: f"({' * '.join(xs)})"),
    )


numbers = st.recursive(number_leaf, _number_tree, max_leaves=12)
texts = st.one_of(st.sampled_from(_names("str")), st.sampled_from(TEXT_LITERALS))
ORDER = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])
comparisons = st.one_of(
    st.tuples(numbers, ORDER, numbers).map(" ".join),
    st.tuples(texts, ORDER, texts).map(" ".join),
    st.tuples(numbers, ORDER, numbers, ORDER, numbers).map(" ".join),
    st.tuples(
        texts, st.sampled_from(["in", "not in"]), st.lists(texts, min_size=1, max_size=3)
    ).map(lambda t: f"{t[0]} {t[1]} ({', '.join(t[2])},)"),
    st.tuples(st.sampled_from(sorted(VOCABULARY)), st.sampled_from(["is None", "is not None"])).map(
        " ".join
    ),
    st.sampled_from(_names("bool")),
)


def _logic(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({' '.join(t)})"),
        inner.map(lambda x: f"not {x}"),
    )


conditions = st.recursive(comparisons, _logic, max_leaves=8)
SPECS = ["", ":,", ":.2f", ":>12", ":%", ":x", ":c", ":e", ":.99f", ":=+#0,.2%", ":n", ":s", ":z"]
placeholders = st.tuples(st.sampled_from(sorted(VOCABULARY)), st.sampled_from(SPECS)).map(
    lambda t: "{" + "".join(t) + "}"
)
templates = st.lists(
    st.one_of(placeholders, st.text(max_size=8), st.sampled_from(["{", "}", "{{", "}}", "{}"])),
    min_size=1,
    max_size=6,
).map("".join)
expressions = st.one_of(
    conditions,
    numbers,
    conditions.flatmap(damaged_text),
    st.text(alphabet=st.sampled_from("loan.dpd()+-*/%<>=! andornot'\"0123456789e_"), max_size=40),
    st.text(max_size=30),
)
"""Rule text of every shape, mostly well typed; test_pack_fuzz puts these in packs."""

rule_texts = st.one_of(
    st.tuples(st.sampled_from(KINDS[:2]), expressions),
    st.tuples(st.just("template"), templates),
)


def _encode(kind: str, text: str) -> bytes:
    return f"{kind}\n{text}".encode("utf-8", errors="surrogatepass")


def check_rule_text(data: bytes) -> None:
    """The property: compiled or refused; evaluated on every context to keepable values."""
    kind, _, text = data.decode("utf-8", errors="surrogatepass").partition("\n")
    try:
        if kind == "template":
            template = compile_template(text)
        else:
            compiled = (compile_condition if kind == "condition" else compile_expression)(text)
    except ExpressionError:
        return
    for ctx in CONTEXTS:
        if kind == "template":
            template.render(ctx).encode("utf-8")
            continue
        value = compiled(ctx)
        if kind == "condition":
            assert value is True or value is False, (text, value)
        str(value).encode("utf-8")  # what the engine does with an episode key


CONTEXTS = _contexts()


@pytest.mark.fuzz
@given(rule_texts)
def test_any_rule_text_compiles_and_evaluates_or_is_refused(
    fuzz_corpus: Any, kind_and_text: tuple[str, str]
) -> None:
    data = _encode(*kind_and_text)
    with fuzz_corpus.watch(TARGET, data):
        check_rule_text(data)


def test_kept_rule_texts_still_compile_and_evaluate_or_are_refused(fuzz_corpus: Any) -> None:
    replay_kept(fuzz_corpus, TARGET, check_rule_text)
