"""Conditions judged as ``test(getter(ctx))`` give what calling them gives, in pack order."""

from __future__ import annotations

from typing import Any

import pytest
from test_core_step import ENGINE
from test_default_pack import CONTEXTS

from rules.lang import compile_condition
from rules.lang.testing import sample_context

SPLIT = [
    "loan.dpd >= 30",
    "30 <= loan.dpd",
    "loan.dpd < 30",
    "loan.dpd == 30",
    "loan.dpd != 30",
    "30 > loan.dpd",
    "features.diverted_share >= 0.3",
    'loan.klass == "loss"',
    'loan.klass in ("substandard", "loss")',
    "loan.dpd in (1, 30.0)",
]
WHOLE = [
    "features.balance > 0",  # may be None
    "model.pd > 0.35",  # scores come from outside
    'loan.klass not in ("loss",)',
    "0 < loan.dpd <= 30",
    "loan.dpd + 1 > 30",
    "loan.cured",
    "loan.cured == True",
    "loan.dpd >= 30 and loan.cured",
]


@pytest.mark.parametrize("text", SPLIT)
@pytest.mark.parametrize("dpd", [0, 1, 29, 30, 31])
@pytest.mark.parametrize("klass", ["normal", "substandard", "loss"])
def test_a_split_condition_tests_the_value_as_the_closure_does(
    text: str, dpd: int, klass: str
) -> None:
    cond = compile_condition(text)
    assert cond.split is not None
    getter, test = cond.split
    loan: dict[str, Any] = {"dpd": dpd, "klass": klass}
    ctx = sample_context(loan=loan, features={"diverted_30d": dpd, "diverted_share": dpd / 100})
    assert test(getter(ctx)) is cond(ctx)


@pytest.mark.parametrize("text", WHOLE)
def test_conditions_that_need_their_closure_are_not_split(text: str) -> None:
    assert compile_condition(text).split is None


@pytest.mark.parametrize("ctx", CONTEXTS)
def test_a_plan_judges_every_rule_in_pack_order(ctx: Any) -> None:
    kind = "" if ctx.event is None else ctx.event.type
    plan = ENGINE._plans.get(kind) or ENGINE._plan_for(kind)
    assert plan.order is not None  # the default pack mixes split and whole conditions
    expected = tuple(item[2](ctx) for item in plan.items)
    assert plan.judge(ctx) == expected
    assert [item[1] for item in plan.items] == [
        rule.id
        for rule in ENGINE.pack.rules
        if rule.kind == "state" or (ctx.event is not None and item_allows(rule, kind))
    ]


def item_allows(rule: Any, kind: str) -> bool:
    guard = rule.condition.event_types
    return guard is None or kind in guard
