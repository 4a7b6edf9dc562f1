"""The built-in pack loads cleanly, stays quiet on healthy loans, and fires on each signal."""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

import pytest

from rules.lang.testing import sample_context
from rules.pack import RulePack, default_pack
from rules.vocabulary import RuleContext

PACK = default_pack()


def fired(pack: RulePack, ctx: RuleContext) -> set[str]:
    """Ids of the rules whose condition holds; event rules sit out clock ticks, as in the core."""
    return {
        rule.id
        for rule in pack.rules
        if not (rule.kind == "event" and ctx.event is None) and rule.condition(ctx)
    }


def test_default_pack_loads_with_enough_rules() -> None:
    assert PACK.name == "default"
    assert PACK.source == "rules/packs/default.yaml"
    assert len(PACK.rules) >= 22
    assert len(PACK.digest) == 64


REPAYMENT = {"type": "repayment_received", "amount": 5000, "kind": "full"}
SCENARIOS: dict[str, tuple[dict[str, Any], set[str]]] = {
    "healthy loan on a tick": ({}, set()),
    "healthy loan, full repayment": ({"event": REPAYMENT}, set()),
    "healthy loan, salary arrives": (
        {"event": {"type": "account_transaction", "direction": "in"}},
        set(),
    ),
    "one day late": ({"loan": {"dpd": 1, "bucket": "M1"}}, {"dpd_1"}),
    "45 days late": ({"loan": {"dpd": 45, "bucket": "M2"}}, {"dpd_1", "dpd_30"}),
    "95 days late, substandard": (
        {"loan": {"dpd": 95, "bucket": "M4", "klass": "substandard", "klass_index": 2}},
        {"dpd_1", "dpd_30", "dpd_60", "dpd_90", "non_performing"},
    ),
    "first installment missed: dpd_1 says it": (
        {"loan": {"installment_missed": True, "missed_installments": 1, "dpd": 1}},
        {"dpd_1"},
    ),
    "a second installment missed": (
        {"loan": {"installment_missed": True, "missed_installments": 2, "dpd": 31}},
        {"dpd_1", "dpd_30", "installment_missed"},
    ),
    "first installment 30 days late, nothing repaid": (
        {"loan": {"dpd": 30, "bucket": "M1", "first_unpaid_installment": 1}},
        {"first_payment_default", "dpd_1", "dpd_30"},
    ),
    "second installment 30 days late": (
        {"loan": {"dpd": 30, "bucket": "M1", "first_unpaid_installment": 2}},
        {"dpd_1", "dpd_30"},
    ),
    "first installment of a new schedule 30 days late": (
        {"loan": {"dpd": 30, "first_unpaid_installment": 1, "restructured": True}},
        {"dpd_1", "dpd_30"},
    ),
    "partial payment": ({"event": {**REPAYMENT, "kind": "partial"}}, {"partial_payment"}),
    "repayment reversed": (
        {"event": {"type": "repayment_reversed", "reversed_event_id": "e-1"}},
        {"repayment_reversed"},
    ),
    "partial payment by a good payer": (
        {"event": {**REPAYMENT, "kind": "partial"}, "loan": {"on_time_streak": 8}},
        {"partial_payment", "care_partial_payment"},
    ),
    "pays on the last day": ({"loan": {"last_day_streak": 3}}, {"pay_on_last_day"}),
    "late then cured twice in a row": ({"loan": {"late_cure_streak": 2}}, {"late_then_cured"}),
    "late then cured long ago, in time since": ({"loan": {"late_cure_count": 5}}, set()),
    "promise broken": (
        {"loan": {"promise_broken": True, "promises_broken": 1, "dpd": 12}},
        {"broken_promise", "dpd_1"},
    ),
    "third-party payer": (
        {"event": {**REPAYMENT, "payer_is_third_party": True}},
        {"third_party_payer"},
    ),
    "balance drop before due": (
        {"features": {"balance_drop_7d": 0.7}, "loan": {"days_to_next_due": 4}},
        {"balance_drop_before_due"},
    ),
    "balance drop long before due": (
        {"features": {"balance_drop_7d": 0.7}, "loan": {"days_to_next_due": 20}},
        set(),
    ),
    "salary stopped": (
        {"features": {"salary_prev_60d": 900_000, "days_since_salary": 41, "inflow_30d": 1000}},
        {"salary_stopped"},
    ),
    "salary stopped for a good payer": (
        {
            "features": {"salary_prev_60d": 900_000, "days_since_salary": 45, "inflow_30d": 1},
            "loan": {"on_time_streak": 9},
        },
        {"salary_stopped", "care_salary_stopped"},
    ),
    "all inflow stopped": ({"features": {"inflow_90d": 50_000}}, {"inflow_stopped"}),
    # A monthly salary 31 days after the last one: the 30-day window is empty for a day.
    "salary one day later than a 30-day window": (
        {"features": {"salary_prev_60d": 900_000, "days_since_salary": 31, "inflow_90d": 900_000}},
        set(),
    ),
    "fund diversion": (
        {"features": {"diverted_share": 0.6}, "loan": {"days_since_disbursement": 20}},
        {"fund_diversion"},
    ),
    "rapid large outflow": (
        {"features": {"days_to_first_large_outflow": 1}},
        {"rapid_large_outflow"},
    ),
    "multi-lending": ({"features": {"other_lender_payments_30d": 4}}, {"multi_lending"}),
    "bureau delinquency": ({"features": {"bureau_new_delinquencies": 2}}, {"bureau_delinquency"}),
    "inquiry surge": ({"features": {"bureau_inquiry_jump": 6}}, {"inquiry_surge"}),
    "lawsuit": ({"features": {"bureau_lawsuit": True}}, {"lawsuit_or_enforcement"}),
    "enforcement": ({"features": {"bureau_enforcement": True}}, {"lawsuit_or_enforcement"}),
    "contact change near a miss": (
        {"features": {"days_since_contact_change": 2}, "loan": {"dpd": 3}},
        {"contact_change_near_miss", "dpd_1"},
    ),
    "contact change on a current loan": ({"features": {"days_since_contact_change": 2}}, set()),
    "collateral LTV breach": ({"features": {"collateral_ltv": 0.9}}, {"collateral_ltv_breach"}),
    "class downgrade": (
        {"loan": {"klass_downgraded": True, "klass": "special_mention", "klass_index": 1}},
        {"class_downgrade"},
    ),
    "loss class": (
        {"loan": {"klass": "loss", "klass_index": 4}},
        {"non_performing", "loss_class"},
    ),
    "high model PD": ({"scores": {"pd": 0.5}}, {"high_pd"}),
    "anomalous transaction": (
        {"scores": {"anomaly": 0.95}, "event": {"type": "account_transaction"}},
        {"anomalous_event"},
    ),
    "anomaly score on a tick": ({"scores": {"anomaly": 0.95}}, set()),
    "note reads as hardship": (
        {"scores": {"intent_hardship": 1.0}, "event": {"type": "collection_note"}},
        {"note_hardship"},
    ),
    "note reads as refusal, 40 days late": (
        {
            "scores": {"intent_refusal": 1.0},
            "event": {"type": "collection_note"},
            "loan": {"dpd": 40, "bucket": "M2"},
        },
        {"note_refusal", "dpd_1", "dpd_30"},
    ),
    "note reads as a dispute": (
        {"scores": {"intent_dispute": 1.0}, "event": {"type": "collection_note"}},
        {"note_dispute"},
    ),
    "note reads as the borrower unreachable": (
        {"scores": {"intent_unreachable": 1.0}, "event": {"type": "collection_note"}},
        {"note_unreachable"},
    ),
    "ordinary note": (
        {"scores": {"intent_promise_to_pay": 1.0}, "event": {"type": "collection_note"}},
        set(),
    ),
    "written off": ({"loan": {"written_off": True, "status": "written_off"}}, {"written_off"}),
    "restructured and late again": (
        {"loan": {"in_observation": True, "restructured": True, "dpd": 5}},
        {"restructured_late_again", "dpd_1"},
    ),
}


@pytest.mark.parametrize(("given", "expected"), SCENARIOS.values(), ids=list(SCENARIOS))
def test_each_signal_fires_exactly_its_rules(given: dict[str, Any], expected: set[str]) -> None:
    assert fired(PACK, sample_context(**given)) == expected


def test_every_rule_is_exercised_by_some_scenario() -> None:
    exercised = set().union(*(expected for _, expected in SCENARIOS.values()))

    assert exercised == set(PACK.by_id)


EVENT_TYPES = (
    "loan_disbursed",
    "installment_due",
    "repayment_received",
    "repayment_reversed",
    "account_transaction",
    "account_balance",
    "bureau_report",
    "contact_change",
    "collection_note",
    "restructure",
    "write_off",
)
CONTEXTS = [
    sample_context(),
    sample_context(
        loan={"dpd": 400, "days_to_next_due": 0, "principal": 0, "klass": "loss"},
        features={"balance": -5, "collateral_ltv": float("inf"), "avg_days_before_due": 0.0},
        scores={"pd": 1.0, "anomaly": 1.0},
    ),
    *(sample_context(event={"type": event_type}) for event_type in EVENT_TYPES),
]


@pytest.mark.parametrize("ctx", CONTEXTS)
def test_every_part_of_every_rule_evaluates_without_error(ctx: RuleContext) -> None:
    for rule in PACK.rules:
        assert rule.condition(ctx) in (True, False)
        if rule.resolve_when is not None:
            assert rule.resolve_when(ctx) in (True, False)
        if rule.episode_key is not None:
            str(rule.episode_key(ctx))
        assert rule.render_message(ctx)


def test_state_rules_resolve_when_cured() -> None:
    delinquent = sample_context(loan={"dpd": 75})
    partly_caught_up = sample_context(loan={"dpd": 10})
    current = sample_context(loan={"dpd": 0})

    for rule_id in ("dpd_1", "dpd_30", "dpd_60", "dpd_90"):
        resolve = PACK.by_id[rule_id].resolve_when
        assert resolve is not None
        assert not resolve(delinquent) and not resolve(partly_caught_up)
        assert resolve(current)


def test_actions_follow_the_team_that_acts() -> None:
    kinds = {rule.id: rule.action.kind for rule in PACK.rules if rule.action is not None}

    # DPD collection steps come from the workflow ladder (rules/policies/workflows.yaml),
    # so the DPD rules name no action: one task per step, not two.
    assert not {"dpd_1", "dpd_30", "dpd_60", "dpd_90"} & kinds.keys()
    assert kinds["broken_promise"] == "collection_step"
    assert {kinds[r] for r in ("bureau_delinquency", "fund_diversion")} == {"review"}
    assert {r for r, kind in kinds.items() if kind == "care_offer"} == {
        "care_salary_stopped",
        "care_partial_payment",
        "note_hardship",
    }
    teams = {rule.owner_team for rule in PACK.rules}
    assert teams == {"collections", "risk-review", "fraud", "customer-care"}


def test_messages_render_the_values_that_matter() -> None:
    ctx = sample_context(
        loan={"dpd": 45, "bucket": "M2", "overdue_total": 120_00}, scores={"pd": 0.4567}
    )

    assert PACK.by_id["dpd_30"].render_message(ctx) == "DPD reached 45 days (M2), 12000 overdue"
    assert PACK.by_id["high_pd"].render_message(ctx) == "Early-warning PD 0.46"


def _python_calls(pack: RulePack, ctx: RuleContext) -> int:
    count = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        count += event == "call"

    conditions = [rule.condition for rule in pack.rules]
    sys.setprofile(profile)
    try:
        for condition in conditions:
            condition(ctx)
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize("ctx", CONTEXTS[:3], ids=["tick", "delinquent", "event"])
def test_judging_the_whole_pack_costs_a_few_python_calls_per_rule(ctx: RuleContext) -> None:
    # Not a stopwatch: Python-level calls are what evaluation costs in CPython
    # (about 50-80 ns each), and this count cannot flake. A regression that adds
    # a layer per node (an interpreter loop, a wrapper per constant) fails here.
    calls = _python_calls(PACK, ctx)

    assert calls <= 3.5 * len(PACK.rules), calls
