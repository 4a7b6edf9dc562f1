"""Types are checked at load; None, zero divisors and chains behave as documented."""

from __future__ import annotations

import pickle
import sys
from types import FrameType
from typing import Any

import pytest

from rules.lang import (
    Condition,
    Expression,
    ExpressionError,
    compile_condition,
    compile_expression,
)
from rules.lang.testing import sample_context

TYPE_ERRORS = {
    "loan.bucket > 3": "cannot compare str with int",
    "loan.bucket == 3": "cannot compare str with int",
    "loan.cured == 1": "cannot compare bool with int",
    "loan.cured < loan.restructured": "true/false values cannot be ordered with <",
    "loan.bucket + 1 > 2": "operator + needs numbers, got str and int",
    "loan.bucket * 2 == 'M1M1'": "operator * needs numbers, got str and int",
    "loan.bucket + 'x' == 'M1x'": "operator + needs numbers, got str and str",
    "loan.cured + 1 > 1": "operator + needs numbers, got bool and int",
    "-loan.bucket == 'x'": "unary - needs a number, got str",
    "loan.dpd and loan.cured": "`and` needs true/false values, got int in `loan.dpd`",
    "loan.cured or features.balance": "`or` needs true/false values, got int",
    "not loan.bucket": "`not` needs true/false values, got str",
    "loan.dpd": "a condition must be true or false, not int",
    "loan.dpd + 1": "a condition must be true or false, not int",
    "loan.bucket in (1, 2)": "cannot look for str in a list holding int 1",
    "loan.dpd in ('M1',)": "cannot look for int in a list holding str 'M1'",
    "loan.dpd in (1, None)": "None never matches `in`",
    "loan.dpd is None": "loan.dpd is never None, so this test is always false",
    "loan.dpd is not None": "loan.dpd is never None, so this test is always true",
    "abs(loan.bucket) > 1": "abs() needs numbers, got str",
    "round(loan.dpd, loan.dpd) > 1": "round()'s second argument must be a whole-number constant",
    "round(loan.dpd, 1.5) > 1": "round()'s second argument must be a whole-number constant",
    "True": "the expression is constant (True)",
    "1 < 2 and 3 > 2": "the expression is constant (True)",
    "loan.dpdd > 30": "unknown name loan.dpdd (did you mean loan.dpd?)",
    "dpd > 30": "unknown name dpd (did you mean loan.dpd?)",
    "features.outflow30d > 0": "(did you mean features.outflow_30d?)",
    "loan > 1": "unknown name loan",
    "loan.dpd.days > 1": "unknown name loan.dpd.days",
}


@pytest.mark.parametrize(("text", "reason"), TYPE_ERRORS.items(), ids=list(TYPE_ERRORS))
def test_type_and_name_errors_are_caught_at_load(text: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_condition(text)

    assert reason in caught.value.reason


def test_unknown_name_error_points_at_the_name() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_condition("loan.dpd > 1 and loan.bukcet == 'M1'")

    assert caught.value.column == len("loan.dpd > 1 and ") + 1
    assert "did you mean loan.bucket?" in str(caught.value)


def test_ints_and_floats_mix_and_strings_order() -> None:
    ctx = sample_context(loan={"dpd": 3, "bucket": "M2"}, features={"balance_drop_7d": 0.5})

    assert compile_condition("loan.dpd * features.balance_drop_7d == 1.5")(ctx) is True
    assert compile_condition("loan.bucket >= 'M1'")(ctx) is True
    assert compile_condition("loan.cured == False")(ctx) is True


NONE_CASES = {
    # comparisons involving None are False, whichever way round and whatever the operator
    "features.balance > 0": False,
    "features.balance <= 0": False,
    "features.balance == 0": False,
    "features.balance != 0": False,
    "0 < features.balance": False,
    "features.balance < loan.dpd": False,
    "loan.dpd < features.balance": False,
    "-1 < features.balance < 1": False,
    "features.balance in (0, 1)": False,
    "features.balance not in (0, 1)": False,
    # ... so their negation is True
    "not features.balance > 0": True,
    # arithmetic with None is None, and then compares False
    "features.balance + 1 > 0": False,
    "features.balance * 0 == 0": False,
    "-features.balance < 1": False,
    "abs(features.balance) >= 0": False,
    "max(features.balance, 0) >= 0": False,
    "round(features.balance) == 0": False,
    # asking about None directly
    "features.balance is None": True,
    "features.balance is not None": False,
    "(features.balance + 1) is None": True,
    # None in a boolean position is false
    "event.payer_is_third_party": False,
    "not event.payer_is_third_party": True,
    "event.payer_is_third_party or loan.dpd == 0": True,
    "loan.dpd == 0 and event.payer_is_third_party": False,
    "event.payer_is_third_party == False": False,
}


@pytest.mark.parametrize(("text", "expected"), NONE_CASES.items(), ids=list(NONE_CASES))
def test_none_semantics(text: str, expected: bool) -> None:
    ctx = sample_context()  # balance is None (nullable, nothing seen); tick: no event
    result = compile_condition(text)(ctx)

    assert result is expected


ZERO_CASES = {
    "loan.dpd / loan.principal > 0": False,
    "loan.dpd / loan.principal <= 0": False,
    "loan.dpd // loan.principal == 0": False,
    "loan.dpd % loan.principal == 0": False,
    "(loan.dpd / loan.principal) is None": True,
    "loan.dpd / 0 > 1": False,
    "features.balance_drop_7d / 0.0 < 1": False,
    "loan.dpd / 1 == 0": True,
}


@pytest.mark.parametrize(("text", "expected"), ZERO_CASES.items(), ids=list(ZERO_CASES))
def test_division_by_zero_yields_none_instead_of_raising(text: str, expected: bool) -> None:
    ctx = sample_context(loan={"principal": 0})

    assert compile_condition(text)(ctx) is expected


@pytest.mark.parametrize(
    "text", ["loan.dpd + 0 / 0", "0 // 0 - loan.dpd", "max(loan.dpd, 1 % 0)", "abs(1 / 0)"]
)
def test_arithmetic_on_a_constant_that_folds_to_none_is_none(text: str) -> None:
    # Always None, so it compares False; as a bare expression it is a constant.
    cond = compile_condition(f"{text} >= 0 or loan.cured")

    assert cond(sample_context(loan={"dpd": 3})) is False
    with pytest.raises(ExpressionError, match="constant"):
        compile_expression(text)


def test_division_by_a_nonzero_constant_is_not_nullable() -> None:
    assert compile_expression("loan.dpd / 2").nullable is False
    assert compile_expression("loan.dpd / 0").nullable is True
    assert compile_expression("loan.dpd / loan.principal").nullable is True


def test_overflow_and_non_finite_rounding_yield_none() -> None:
    huge = sample_context(loan={"principal": 10**400}, features={"balance_drop_7d": float("inf")})

    assert compile_expression("loan.principal / 3")(huge) is None
    assert compile_expression("loan.principal * 0.5")(huge) is None
    assert compile_expression("round(features.balance_drop_7d)")(huge) is None
    assert compile_expression("round(features.balance_drop_7d, 2)")(huge) == float("inf")


@pytest.mark.parametrize(
    ("dpd", "expected"), [(0, False), (1, True), (15, True), (30, True), (31, False)]
)
def test_chained_comparison_reads_like_maths(dpd: int, expected: bool) -> None:
    cond = compile_condition("0 < loan.dpd <= 30")

    assert cond(sample_context(loan={"dpd": dpd})) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30 <= loan.dpd", [False, True, True]), ("30 > loan.dpd", [True, False, False])],
)
def test_a_constant_on_the_left_compares_the_right_way_round(
    text: str, expected: list[bool]
) -> None:
    cond = compile_condition(text)

    assert [cond(sample_context(loan={"dpd": dpd})) for dpd in (29, 30, 31)] == expected


def test_long_chains_read_each_operand_once_and_stop_early() -> None:
    reads: list[int] = []
    cond = compile_condition("loan.dpd <= loan.max_dpd < loan.principal != 7")

    class Loan:
        def __getattr__(self, name: str) -> int:
            reads.append(1)
            return {"dpd": 5, "max_dpd": 9, "principal": 100}[name]

    ctx = sample_context()
    ctx.loan = Loan()
    assert cond(ctx) is True
    assert len(reads) == 3

    reads.clear()
    ctx.loan = type("L", (), {"dpd": 50, "max_dpd": 9, "principal": 100})()
    assert cond(ctx) is False


@pytest.mark.parametrize(
    ("bucket", "inside"), [("M1", True), ("M2", True), ("M0", False), ("M6+", False)]
)
def test_in_and_not_in_literal_lists(bucket: str, inside: bool) -> None:
    ctx = sample_context(loan={"bucket": bucket})

    assert compile_condition("loan.bucket in ('M1', 'M2')")(ctx) is inside
    assert compile_condition("loan.bucket not in ['M1', 'M2']")(ctx) is (not inside)
    assert compile_condition("loan.bucket in {'M1', 'M2'}")(ctx) is inside


def test_numeric_in_lists_match_ints_and_floats() -> None:
    ctx = sample_context(loan={"dpd": 30})

    assert compile_condition("loan.dpd in (30.0, 60)")(ctx) is True


def test_functions_compute_like_python() -> None:
    ctx = sample_context(loan={"dpd": -7, "max_dpd": 12}, features={"balance_drop_7d": 0.456})

    assert compile_expression("abs(loan.dpd)")(ctx) == 7
    assert compile_expression("max(loan.dpd, loan.max_dpd, 3)")(ctx) == 12
    assert compile_expression("min(loan.dpd, 0)")(ctx) == -7
    assert compile_expression("round(features.balance_drop_7d, 2)")(ctx) == 0.46
    assert compile_expression("round(features.balance_drop_7d)")(ctx) == 0


def test_result_kinds_follow_the_operands() -> None:
    assert compile_expression("loan.dpd + 1").kind == "int"
    assert compile_expression("loan.dpd + 1.0").kind == "float"
    assert compile_expression("loan.dpd / 1").kind == "float"
    assert compile_expression("loan.dpd // 2").kind == "int"
    assert compile_expression("round(features.balance_drop_7d)").kind == "int"
    assert compile_expression("loan.bucket").kind == "str"


def test_constant_subexpressions_are_folded_at_load() -> None:
    ctx = sample_context(loan={"dpd": 30})

    assert compile_condition("loan.dpd >= 10 * 3")(ctx) is True
    assert compile_condition("loan.dpd >= 10 * 3 or 1 > 2")(ctx) is True
    assert compile_condition("(1 > 2 or loan.cured) and 2 > 1")(ctx) is False
    assert compile_condition("loan.dpd > 1 / 0 or loan.cured")(ctx) is False


def test_a_condition_always_returns_a_real_bool() -> None:
    ctx = sample_context()
    cond = compile_condition("loan.dpd == 0 and event.payer_is_third_party")

    assert cond(ctx) is False  # the operand read None; the condition still says False


def test_names_and_uses_event_describe_what_is_read() -> None:
    state = compile_condition("loan.dpd >= 30 and features.outflow_30d > 0")
    event = compile_condition("event.type == 'repayment_received' and model.pd > 0.3")

    assert state.names == {"loan.dpd", "features.outflow_30d"}
    assert state.uses_event is False
    assert event.names == {"event.type", "model.pd"}
    assert event.uses_event is True


def test_compiled_expressions_are_immutable_values() -> None:
    cond = compile_condition(" loan.dpd >= 30 ")

    with pytest.raises(AttributeError):
        cond.text = "loan.dpd >= 0"
    assert cond == compile_condition("loan.dpd >= 30")
    assert hash(cond) == hash(compile_condition("loan.dpd >= 30"))
    assert cond != compile_expression("loan.dpd >= 30")
    assert repr(cond) == "Condition('loan.dpd >= 30')"
    assert isinstance(cond, Condition) and isinstance(cond, Expression)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(cond)


def test_scores_default_to_zero_when_the_model_has_not_scored() -> None:
    assert compile_condition("model.pd < 0.1")(sample_context()) is True


def python_calls(cond: Condition, ctx: Any) -> list[str]:
    """The Python-level function calls one evaluation makes (the cost that matters)."""
    calls: list[str] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            calls.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        cond(ctx)
    finally:
        sys.setprofile(None)
    return calls


CALL_BUDGET = {
    # the closure alone: the vocabulary getter is a C attrgetter and constants are
    # baked in, never called
    "loan.dpd >= 30": 1,
    "loan.dpd >= 10 * 3": 1,
    "30 <= loan.dpd": 1,
    "0 < loan.dpd <= 30": 1,
    "loan.bucket in ('M1', 'M2')": 1,
    "loan.cured": 0,
    "not loan.cured": 1,
    "loan.dpd > loan.max_dpd": 1,
    # and: one closure over its parts
    "loan.dpd >= 30 and loan.cured": 2,
    "loan.dpd >= 30 and loan.cured and loan.restructured": 2,
}


@pytest.mark.parametrize(("text", "budget"), CALL_BUDGET.items(), ids=list(CALL_BUDGET))
def test_evaluation_costs_a_fixed_small_number_of_python_calls(text: str, budget: int) -> None:
    cond = compile_condition(text)
    ctx = sample_context(loan={"dpd": 31, "cured": True, "restructured": True, "bucket": "M2"})
    calls = python_calls(cond, ctx)

    assert len(calls) == budget, calls
