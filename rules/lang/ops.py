"""The closures a compiled expression is made of: the language's run-time semantics.

Each factory returns a small function of the `RuleContext`. A compiled rule is
a tree of these, so evaluating it is a handful of Python calls and no
interpretation: no node dispatch, no dictionary lookups, no `eval`. Constants
are baked into the closure that uses them (``loan.dpd >= 30`` is one closure
around the ``loan.dpd`` getter) instead of being closures of their own.

The None rules live here and only here:

- a comparison or ``in`` test involving None is False (``x is None`` asks);
- arithmetic and function calls with a None operand give None;
- division or modulo by zero, and any other arithmetic fault, give None;
- ``round`` of a value too large for a 64-bit whole number gives None (the
  compiler refuses such whole-number constants), so no result grows to
  thousands of digits that the engine could not even print as an episode key;
- ``and``/``or``/``not`` treat None as false.

Comparison and arithmetic operators are the C functions of `operator`, which
cost no more than the inline operators.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rules.vocabulary import RuleContext

__all__ = [
    "Getter",
    "Op",
    "Split",
    "WHOLE_LIMIT",
    "arith_cf",
    "arith_fc",
    "arith_ff",
    "between",
    "bounded_round",
    "call",
    "chain",
    "compare_fc",
    "compare_ff",
    "constant",
    "is_none",
    "is_true",
    "logic_and",
    "logic_or",
    "member",
    "negate",
    "not_",
]

Getter = Callable[[RuleContext], Any]
Split = tuple[Getter, Callable[[Any], bool]]
"""A condition as (getter, test of the value read): see `rules.lang.compile`."""
Op = Callable[[Any, Any], Any]
Operand = tuple[bool, Any]
"""(is_constant, value or getter): a chain operand, so constants cost no call."""


def constant(value: Any) -> Getter:
    """A getter that ignores the context (used where a constant must be callable)."""
    return lambda ctx: value


def compare_fc(op: Op, get: Getter, value: Any) -> Getter:
    """``get(ctx) <op> value``; False when the value read is None."""

    def run(ctx: RuleContext) -> bool:
        left = get(ctx)
        return left is not None and op(left, value)

    return run


def compare_ff(op: Op, get_left: Getter, get_right: Getter) -> Getter:
    """``left <op> right``; False when either side is None (right not read then)."""

    def run(ctx: RuleContext) -> bool:
        left = get_left(ctx)
        if left is None:
            return False
        right = get_right(ctx)
        return right is not None and op(left, right)

    return run


def between(op_low: Op, low: Any, get: Getter, op_high: Op, high: Any) -> Getter:
    """``low <op> get(ctx) <op> high``, the common chained form, reading once."""

    def run(ctx: RuleContext) -> bool:
        value = get(ctx)
        return value is not None and op_low(low, value) and op_high(value, high)

    return run


def chain(first: Operand, rest: Sequence[tuple[Op, Operand]]) -> Getter:
    """Any chained comparison: each operand read at most once, stopping at the first False."""
    first_const, first_value = first
    steps = tuple((op, is_const, value) for op, (is_const, value) in rest)

    def run(ctx: RuleContext) -> bool:
        left = first_value if first_const else first_value(ctx)
        if left is None:
            return False
        for op, is_const, value in steps:
            right = value if is_const else value(ctx)
            if right is None or not op(left, right):
                return False
            left = right
        return True

    return run


def member(get: Getter, values: frozenset[Any], negated: bool) -> Getter:
    """``x in {...}`` / ``x not in {...}``; False for None either way."""
    if negated:

        def run_not_in(ctx: RuleContext) -> bool:
            value = get(ctx)
            return value is not None and value not in values

        return run_not_in

    def run_in(ctx: RuleContext) -> bool:
        value = get(ctx)
        return value is not None and value in values

    return run_in


def is_none(get: Getter, negated: bool) -> Getter:
    """``x is None`` / ``x is not None``."""
    if negated:
        return lambda ctx: get(ctx) is not None
    return lambda ctx: get(ctx) is None


def is_true(get: Getter) -> Getter:
    """Collapse a maybe-None truth value to a real bool (None is False)."""
    return lambda ctx: get(ctx) is True


def not_(get: Getter) -> Getter:
    return lambda ctx: not get(ctx)


def logic_and(parts: Sequence[Getter]) -> Getter:
    """Short-circuit ``and`` over two or more parts."""
    if len(parts) == 2:
        a, b = parts
        return lambda ctx: a(ctx) and b(ctx)
    if len(parts) == 3:
        a, b, c = parts
        return lambda ctx: a(ctx) and b(ctx) and c(ctx)
    every = tuple(parts)

    def run(ctx: RuleContext) -> Any:
        result: Any = True
        for part in every:
            result = part(ctx)
            if not result:
                return result
        return result

    return run


def logic_or(parts: Sequence[Getter]) -> Getter:
    """Short-circuit ``or`` over two or more parts."""
    if len(parts) == 2:
        a, b = parts
        return lambda ctx: a(ctx) or b(ctx)
    if len(parts) == 3:
        a, b, c = parts
        return lambda ctx: a(ctx) or b(ctx) or c(ctx)
    every = tuple(parts)

    def run(ctx: RuleContext) -> Any:
        result: Any = False
        for part in every:
            result = part(ctx)
            if result:
                return result
        return result

    return run


def negate(get: Getter) -> Getter:
    """Unary minus; None stays None."""

    def run(ctx: RuleContext) -> Any:
        value = get(ctx)
        return None if value is None else -value

    return run


def arith_fc(op: Op, get: Getter, value: Any) -> Getter:
    """``get(ctx) <op> value``; None in, None out; faults (x / 0) give None."""

    def run(ctx: RuleContext) -> Any:
        left = get(ctx)
        if left is None:
            return None
        try:
            return op(left, value)
        except ArithmeticError:
            return None

    return run


def arith_cf(op: Op, value: Any, get: Getter) -> Getter:
    """``value <op> get(ctx)``, as `arith_fc` with the constant on the left."""

    def run(ctx: RuleContext) -> Any:
        right = get(ctx)
        if right is None:
            return None
        try:
            return op(value, right)
        except ArithmeticError:
            return None

    return run


def arith_ff(op: Op, get_left: Getter, get_right: Getter) -> Getter:
    """``left <op> right``, as `arith_fc` with both sides read."""

    def run(ctx: RuleContext) -> Any:
        left = get_left(ctx)
        if left is None:
            return None
        right = get_right(ctx)
        if right is None:
            return None
        try:
            return op(left, right)
        except ArithmeticError:
            return None

    return run


WHOLE_LIMIT = 2**63 - 1
"""Largest whole number a constant or a ``round`` result may be (signed 64 bits)."""


def bounded_round(value: Any, digits: int | None = None) -> Any:
    """`round`, but None when it turns a float into a whole number beyond `WHOLE_LIMIT`.

    ``round(1e308)`` is a 309-digit int: twelve characters of rule text that a
    product can multiply past anything printable. Whole numbers that were
    whole already are left alone.
    """
    result = round(value, digits)
    if type(result) is int and type(value) is float and not -WHOLE_LIMIT <= result <= WHOLE_LIMIT:
        return None
    return result


def call(function: Callable[..., Any], args: Sequence[Operand]) -> Getter:
    """``function(*args)`` for the whitelisted functions; None if any argument is None.

    ``round`` of an infinity or NaN raises in Python; here it gives None.
    """
    operands = tuple(args)
    if len(operands) == 1 and not operands[0][0]:
        get = operands[0][1]

        def run_one(ctx: RuleContext) -> Any:
            value = get(ctx)
            if value is None:
                return None
            try:
                return function(value)
            except (ArithmeticError, ValueError):
                return None

        return run_one

    def run(ctx: RuleContext) -> Any:
        values = []
        for is_const, operand in operands:
            value = operand if is_const else operand(ctx)
            if value is None:
                return None
            values.append(value)
        try:
            return function(*values)
        except (ArithmeticError, ValueError):
            return None

    return run
