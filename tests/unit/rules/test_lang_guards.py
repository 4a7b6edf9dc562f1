"""The event types a condition can be true on: never too few (a rule skipped wrongly is lost)."""

from __future__ import annotations

import pytest
from test_default_pack import EVENT_TYPES

from rules.lang import compile_condition
from rules.lang.testing import sample_context
from rules.pack import default_pack

CASES = {
    'event.type == "repayment_received"': {"repayment_received"},
    '"repayment_received" == event.type': {"repayment_received"},
    'event.type == "repayment_received" and event.kind == "partial"': {"repayment_received"},
    'event.type in ("a", "b") and event.amount > 1': {"a", "b"},
    'event.type in ("a", "b") and event.type == "b"': {"b"},
    'event.type == "a" and event.type == "b"': set(),
    'event.type == "a" or event.type in ["b", "c"]': {"a", "b", "c"},
    'model.anomaly >= 0.9 and event.type in ("a", "b")': {"a", "b"},
    'not (event.type != "a") and event.amount > 0': None,
    'event.type != "a"': None,
    'event.type not in ("a", "b")': None,
    'event.type == "a" or event.amount > 0': None,
    "event.amount > 0": None,
    'event.type < "b"': None,
    'event.type >= "a" and event.type == "b"': {"b"},
}


@pytest.mark.parametrize(("text", "expected"), CASES.items(), ids=list(CASES))
def test_guard_is_read_from_the_event_type_tests(text: str, expected: set[str] | None) -> None:
    guard = compile_condition(text).event_types
    assert guard == (None if expected is None else frozenset(expected))


@pytest.mark.parametrize("text", list(CASES))
@pytest.mark.parametrize("event_type", ["a", "b", "c", "repayment_received", "tick"])
def test_a_condition_is_never_true_outside_its_guard(text: str, event_type: str) -> None:
    cond = compile_condition(text)
    for amount in (None, 0, 5):
        ctx = sample_context(
            event={"type": event_type, "amount": amount, "kind": "partial"},
            scores={"anomaly": 1.0},
        )
        if cond(ctx):
            assert cond.event_types is None or event_type in cond.event_types


def test_default_pack_event_rules_are_guarded_and_state_rules_are_not() -> None:
    for rule in default_pack().rules:
        guard = rule.condition.event_types
        if rule.kind == "state":
            assert guard is None, rule.id
        else:
            assert guard is not None and guard <= set(EVENT_TYPES), rule.id


def test_skipping_guarded_event_rules_changes_no_output(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import date, timedelta
    from importlib import resources

    from test_core_step import ENGINE, book_events, daily_ticks, run
    from test_loan_builders import at

    import rules.lang.compile
    from rules.core import Engine
    from rules.pack import load_pack_text

    book, events = book_events()
    items = [*events, *daily_ticks("L-7", date(2026, 2, 1), date(2026, 2, 20))]
    for n in range(3):
        pay = book.repay(at(date(2026, 2, 21) + timedelta(days=n)), 20_000, third_party=n == 1)
        items.append(pay.model_copy(update={"kind": "partial"}))
    text = (resources.files("rules") / "packs" / "default.yaml").read_text("utf-8")
    monkeypatch.setattr(rules.lang.compile, "event_types", lambda tree: None)
    unguarded = Engine(load_pack_text(text, source="default.yaml"), ENGINE.policy, ENGINE.workflows)
    assert all(rule.condition.event_types is None for rule in unguarded.pack.rules)
    guarded = [result for _, result in run(items)[1]]
    assert [result for _, result in run(items, unguarded)[1]] == guarded
    fired = {w.rule_id for r in guarded for w in r.warnings}
    assert {"partial_payment", "third_party_payer"} <= fired
