"""The parser's whitelist: anything off it is refused before any value is read."""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

import pytest

from rules.lang import ExpressionError, compile_condition, compile_expression
from rules.lang.parse import MAX_DEPTH, MAX_LENGTH, Compare, Const, Member, Name, parse
from rules.lang.testing import recording_vocabulary

REJECTED = {
    "loan.dpd[0] > 1": "subscripts are not allowed",
    "loan.dpd[1:2] > 1": "subscripts are not allowed",
    "(lambda: loan.dpd)() > 1": "only abs, max, min, round can be called",
    "lambda: 1": "lambdas are not allowed",
    "[x for x in (1, 2)] == 1": "comprehensions are not allowed",
    "any(x > 1 for x in (1, 2))": "calling any is not allowed",
    "{x: 1 for x in (1,)}": "comprehensions are not allowed",
    "loan.__class__ == 1": "dunder names are not allowed: __class__",
    "loan.dpd.__class__.__bases__": "dunder names are not allowed",
    "__import__('os').system('true')": "method calls are not allowed",
    "__import__('os')": "dunder names are not allowed: __import__",
    "__builtins__": "dunder names are not allowed",
    "open('/etc/passwd') == 1": "calling open is not allowed",
    "eval('1') == 1": "calling eval is not allowed",
    "exec('x = 1')": "calling exec is not allowed",
    "getattr(loan, 'dpd') > 1": "calling getattr is not allowed",
    "loan.dpd.bit_length() > 1": "method calls are not allowed",
    "'{}'.format(loan) == 'x'": "method calls are not allowed",
    "'abc'.upper == 1": "attribute access is only allowed on vocabulary names",
    "(1).real > 0": "attribute access is only allowed on vocabulary names",
    "max(loan.dpd, key=abs) > 1": "max() takes no keyword arguments",
    "max(*loan.dpd) > 1": "starred expressions are not allowed",
    "loan.dpd ** 2 > 1": "operator ** is not allowed",
    "loan.dpd & 1": "operator & (use `and`) is not allowed",
    "~loan.dpd > 1": "operator ~ (use `not`) is not allowed",
    "+loan.dpd > 1": "operator unary + is not allowed",
    "1 if loan.cured else 0": "conditional expressions (x if c else y) are not allowed",
    "(x := 1) > 0": "assignment expressions (:=) are not allowed",
    "f'{loan.dpd}' == '1'": "f-strings are not allowed",
    "{'a': 1} == loan.bucket": "dicts are not allowed",
    "(loan.dpd, 1) == 1": "tuples outside `in` are not allowed",
    "b'x' == loan.bucket": "constants of type bytes are not allowed",
    "1j == loan.dpd": "constants of type complex are not allowed",
    "loan.dpd in loan.bucket": "the right side of `in` must be a literal list",
    "loan.dpd in (loan.max_dpd, 2)": "`in` lists may hold only constants",
    "loan.dpd in ()": "an empty `in` list never matches",
    "loan.dpd is 3": "`is` is only for None",
    "loan.dpd == None": "compare with None using `is None`",
    "loan.dpd < 3 in (1, 2)": "`in` and `is` cannot be chained",
    "min(loan.dpd) > 1": "min() takes 2 to 16 arguments, got 1",
    "abs(loan.dpd, 2) > 1": "abs() takes 1 arguments, got 2",
    "min > 1": "min is a function: call it",
    "loan.dpd = 3": "invalid syntax (compare with ==, not =)",
    "loan.dpd >": "invalid syntax",
    "loan.dpd > (3": "invalid syntax: '(' was never closed",
    "   ": "empty expression",
    "loan.dpd\x00 > 1": "null bytes",
}


@pytest.mark.parametrize(("text", "reason"), REJECTED.items(), ids=list(REJECTED))
def test_off_whitelist_syntax_is_rejected_with_a_clear_reason(text: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_condition(text)

    assert reason in caught.value.reason


@pytest.mark.parametrize("text", list(REJECTED))
def test_rejected_syntax_never_evaluates_anything(text: str) -> None:
    vocabulary, reads = recording_vocabulary()
    calls: list[str] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call":
            calls.append(getattr(arg, "__name__", ""))

    sys.setprofile(profile)
    try:
        with pytest.raises(ExpressionError):
            compile_condition(text, vocabulary)
    finally:
        sys.setprofile(None)

    assert reads == []
    assert not {"eval", "exec", "open", "__import__", "system"} & set(calls)


def test_parse_yields_the_languages_own_nodes() -> None:
    tree = parse("loan.bucket in ('M1', 'M2')")

    assert tree == Member(Name("loan.bucket", 1), (Const("M1", 17), Const("M2", 23)), False, 1)


def test_line_breaks_count_as_spaces_so_yaml_can_fold_conditions() -> None:
    tree = parse("loan.dpd >= 30\n  and\r\n loan.cured")

    assert [type(node) for node in tree.operands] == [Compare, Name]  # type: ignore[union-attr]


def test_negative_numbers_are_constants_even_inside_in_lists() -> None:
    cond = compile_condition("loan.dpd in (-1, 0)")

    assert cond.names == {"loan.dpd"}


def test_error_column_counts_characters_not_bytes() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_condition("loan.bucket == '逾期' and loan.dpd[0] > 1")

    assert caught.value.column == len("loan.bucket == '逾期' and ") + 1


def test_error_columns_count_in_the_text_as_given() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_condition("  loan.dpd > 1 and\n  loan.dpd[0] > 1")

    assert caught.value.column == len("  loan.dpd > 1 and\n  ") + 1
    assert caught.value.text == "  loan.dpd > 1 and\n  loan.dpd[0] > 1"


def test_overlong_text_is_rejected() -> None:
    with pytest.raises(ExpressionError, match="longer than"):
        compile_condition("loan.dpd > 1 and " * (MAX_LENGTH // 10) + "loan.cured")


def test_deep_nesting_is_rejected_without_recursion_error() -> None:
    with pytest.raises(ExpressionError, match="nested deeper"):
        compile_condition("not " * (MAX_DEPTH + 5) + "loan.cured")
    with pytest.raises(ExpressionError):
        compile_expression("(" * 300 + "loan.dpd" + ")" * 300)


def test_nesting_within_the_limit_compiles() -> None:
    cond = compile_condition("not " * (MAX_DEPTH - 2) + "loan.cured")

    assert cond.names == {"loan.cured"}
