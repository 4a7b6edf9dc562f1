"""Type-check a parsed expression against the vocabulary and build its closures.

Everything that can be known before the first loan arrives is decided here,
once, at load: every name exists, every operator gets operands of the right
type (no ``loan.bucket > 3``, no arithmetic on text, no ``and`` over numbers),
constant sub-expressions are folded, and ``is None`` is only asked of values
that can be None. What is left for run time is a tree of closures from
`rules.lang.ops`, which implement the None and division-by-zero semantics.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, TypeGuard, cast

from rules.lang import ops
from rules.lang.exceptions import ExpressionError
from rules.lang.expression import Condition, Expression, ValueKind
from rules.lang.guards import event_types
from rules.lang.names import resolve
from rules.lang.parse import (
    Binary,
    Call,
    Compare,
    Const,
    IsNone,
    Logic,
    Member,
    Name,
    Node,
    Unary,
    parse,
)
from rules.vocabulary import VOCABULARY, RuleContext, Var

__all__ = ["compile_condition", "compile_expression"]

Kind = Literal["int", "float", "str", "bool", "none"]

_COMPARE: dict[str, ops.Op] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_ARITH: dict[str, ops.Op] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
    "//": operator.floordiv,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "max": max,
    "min": min,
    "round": ops.bounded_round,
}
_NUMBERS = ("int", "float")
_NO_CONTEXT = cast(RuleContext, None)  # folding evaluates closures made only of constants


def compile_expression(text: str, vocabulary: Mapping[str, Var] = VOCABULARY) -> Expression:
    """Compile rule text to an `Expression` of any type (an episode key, for instance).

    >>> from types import SimpleNamespace as NS
    >>> expr = compile_expression("loan.overdue_total / loan.principal")
    >>> sorted(expr.names), expr.kind
    (['loan.overdue_total', 'loan.principal'], 'float')
    >>> ctx = NS(loan=NS(overdue_total=250, principal=1000))
    >>> expr(ctx)
    0.25
    >>> expr(NS(loan=NS(overdue_total=250, principal=0))) is None  # x / 0 is None
    True
    """
    fn, kind, nullable, names = _Compiler(text, vocabulary).run()
    return Expression(
        fn, text=text.strip(), names=names, kind=cast(ValueKind, kind), nullable=nullable
    )


def compile_condition(text: str, vocabulary: Mapping[str, Var] = VOCABULARY) -> Condition:
    """Compile rule text that must be true or false to a `Condition`.

    >>> from types import SimpleNamespace as NS
    >>> cond = compile_condition("0 < loan.dpd <= 30 and loan.bucket in ('M1', 'M2')")
    >>> cond(NS(loan=NS(dpd=12, bucket="M1")))
    True
    >>> try:
    ...     compile_condition("loan.dpdd > 30")
    ... except ExpressionError as exc:
    ...     print(exc.reason)
    unknown name loan.dpdd (did you mean loan.dpd?)
    >>> compile_condition("loan.bucket > 3")
    Traceback (most recent call last):
    ...
    rules.lang.exceptions.ExpressionError: cannot compare str with int (column 1)
    """
    compiler = _Compiler(text, vocabulary)
    fn, kind, nullable, names = compiler.run()
    if kind != "bool":
        raise ExpressionError(
            f"a condition must be true or false, not {_describe(kind)}"
            " (compare it, as in features.x > 0)",
            text=text,
        )
    if nullable:
        fn = ops.is_true(fn)
    tree = compiler.tree
    return Condition(
        fn,
        text=text.strip(),
        names=names,
        kind="bool",
        nullable=False,
        event_types=event_types(tree) if tree is not None else None,
        split=_split(tree, vocabulary) if tree is not None else None,
    )


def _split(node: Node, vocabulary: Mapping[str, Var]) -> ops.Split | None:
    """``loan.dpd >= 30`` as (the getter of loan.dpd, ``partial(operator.le, 30)``).

    Only for one comparison or ``in`` test of a name that is never None (so the
    closure's None check is moot) against constants: both halves then run in C
    and a caller judging many conditions can skip the closure's Python frame.

    >>> getter, test = compile_condition("loan.dpd >= 30").split
    >>> test(30), test(29)
    (True, False)
    >>> compile_condition("features.balance > 0").split is None  # may be None
    True
    """
    if isinstance(node, Member) and not node.negated and _held(node.operand):
        var = vocabulary[node.operand.name]
        if var.nullable or var.type == "bool":
            return None
        return var.getter, frozenset(const.value for const in node.values).__contains__
    if not isinstance(node, Compare) or len(node.ops) != 1:
        return None
    left, right = node.operands
    if _held(left) and isinstance(right, Const):
        name, value, op = left, right.value, _FLIPPED[node.ops[0]]  # x >= c is c <= x
    elif isinstance(left, Const) and _held(right):
        name, value, op = right, left.value, node.ops[0]
    else:
        return None
    var = vocabulary[name.name]
    if var.nullable or value is None or var.type == "bool" or isinstance(value, bool):
        return None
    return var.getter, partial(_COMPARE[op], value)


def _held(node: Node) -> TypeGuard[Name]:
    """A name of the loan's own state (model scores come from outside and are not trusted)."""
    return isinstance(node, Name) and node.name.startswith(("loan.", "features."))


@dataclass(frozen=True, slots=True)
class _Out:
    """A compiled sub-expression: its type and either a getter or a folded constant."""

    kind: Kind
    nullable: bool
    fn: ops.Getter | None = None
    value: Any = None

    @property
    def getter(self) -> ops.Getter:
        return self.fn if self.fn is not None else ops.constant(self.value)

    @property
    def operand(self) -> ops.Operand:
        return (True, self.value) if self.fn is None else (False, self.fn)


def _describe(kind: Kind) -> str:
    return "None" if kind == "none" else kind


def _kind_of(value: object) -> Kind:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    return "float" if isinstance(value, float) else "str"


def _folded_none(*outs: _Out) -> bool:
    """A part already folded to None (``1 / 0``) makes arithmetic None, as at run time."""
    return any(out.fn is None and out.value is None for out in outs)


def _beyond_64_bits(value: object) -> bool:
    """A whole-number constant too large for the outputs (and, past 4300 digits, for `str`)."""
    return type(value) is int and not -ops.WHOLE_LIMIT <= value <= ops.WHOLE_LIMIT


def _number_kind(*outs: _Out) -> Kind:
    return "int" if all(out.kind == "int" for out in outs) else "float"


class _Compiler:
    def __init__(self, text: str, vocabulary: Mapping[str, Var]) -> None:
        self.text = text
        self.vocabulary = vocabulary
        self.names: set[str] = set()
        self.tree: Node | None = None

    def run(self) -> tuple[ops.Getter, Kind, bool, frozenset[str]]:
        self.tree = parse(self.text)
        out = self.node(self.tree)
        if out.fn is None:
            raise ExpressionError(
                f"the expression is constant ({out.value!r}): it must read a vocabulary name",
                text=self.text,
            )
        return out.fn, out.kind, out.nullable, frozenset(self.names)

    def fail(self, reason: str, node: Node, hint: str = "") -> ExpressionError:
        where = f" in `{node.source}`" if node.source and node.source != self.text.strip() else ""
        return ExpressionError(reason + where + hint, text=self.text, column=node.column)

    def node(self, node: Node) -> _Out:
        out = self.typed(node)
        if out.fn is None and _beyond_64_bits(out.value):
            raise self.fail("whole numbers must fit in 64 bits (at most 9223372036854775807)", node)
        return out

    def typed(self, node: Node) -> _Out:
        match node:
            case Const(value=value):
                return _Out(_kind_of(value), value is None, value=value)
            case Name(name=name):
                var = resolve(name, self.vocabulary, text=self.text, column=node.column)
                self.names.add(name)
                return _Out(var.type, var.nullable, fn=var.getter)
            case Unary():
                return self.unary(node)
            case Logic():
                return self.logic(node)
            case Binary():
                return self.binary(node)
            case Compare():
                return self.compare(node)
            case Member():
                return self.member(node)
            case IsNone():
                return self.is_none(node)
            case Call():
                return self.call(node)
        raise AssertionError(f"unhandled node {node!r}")  # pragma: no cover

    @staticmethod
    def folded(kind: Kind, nullable: bool, fn: ops.Getter, *parts: _Out) -> _Out:
        """The result node; evaluated now when every part is a constant."""
        if all(part.fn is None for part in parts):
            value = fn(_NO_CONTEXT)
            return _Out(_kind_of(value) if value is not None else kind, value is None, value=value)
        return _Out(kind, nullable, fn=fn)

    def unary(self, node: Unary) -> _Out:
        inner = self.node(node.operand)
        if node.op == "not":
            self.need_bool(inner, node.operand, "`not`")
            return self.folded("bool", False, ops.not_(inner.getter), inner)
        if inner.kind not in _NUMBERS:
            raise self.fail(f"unary - needs a number, got {_describe(inner.kind)}", node)
        return self.folded(inner.kind, inner.nullable, ops.negate(inner.getter), inner)

    def need_bool(self, out: _Out, node: Node, where: str) -> None:
        if out.kind != "bool":
            raise self.fail(
                f"{where} needs true/false values, got {_describe(out.kind)}",
                node,
                " (compare it, as in features.x > 0)",
            )

    def logic(self, node: Logic) -> _Out:
        outs = [self.node(operand) for operand in node.operands]
        for out, operand in zip(outs, node.operands, strict=True):
            self.need_bool(out, operand, f"`{node.op}`")
        decisive = node.op == "or"  # the constant that settles the whole expression
        if any(out.fn is None and out.value is decisive for out in outs):
            return _Out("bool", False, value=decisive)
        live = [out for out in outs if out.fn is not None]
        if not live:
            return _Out("bool", False, value=not decisive)
        nullable = any(out.nullable for out in live)
        if len(live) == 1:
            return live[0]
        getters = [out.getter for out in live]
        fn = ops.logic_or(getters) if decisive else ops.logic_and(getters)
        return _Out("bool", nullable, fn=fn)

    def binary(self, node: Binary) -> _Out:
        left, right = self.node(node.left), self.node(node.right)
        if left.kind not in _NUMBERS or right.kind not in _NUMBERS:
            raise self.fail(
                f"operator {node.op} needs numbers, got"
                f" {_describe(left.kind)} and {_describe(right.kind)}",
                node,
            )
        op = _ARITH[node.op]
        kind: Kind = "float" if node.op == "/" else _number_kind(left, right)
        nullable = left.nullable or right.nullable
        if node.op in ("/", "%", "//"):
            safe_divisor = right.fn is None and right.value not in (0, None)
            nullable = nullable or not safe_divisor
        if _folded_none(left, right):
            return _Out(kind, True, value=None)
        if left.fn is not None and right.fn is None:
            fn = ops.arith_fc(op, left.fn, right.value)
        elif left.fn is None and right.fn is not None:
            fn = ops.arith_cf(op, left.value, right.fn)
        else:
            fn = ops.arith_ff(op, left.getter, right.getter)
        return self.folded(kind, nullable, fn, left, right)

    def comparable(self, left: _Out, op: str, right: _Out, node: Node) -> None:
        if left.kind in _NUMBERS and right.kind in _NUMBERS:
            return
        if left.kind == right.kind == "str":
            return
        if left.kind == right.kind == "bool":
            if op in ("==", "!="):
                return
            raise self.fail(f"true/false values cannot be ordered with {op}", node)
        raise self.fail(f"cannot compare {_describe(left.kind)} with {_describe(right.kind)}", node)

    def compare(self, node: Compare) -> _Out:
        outs = [self.node(operand) for operand in node.operands]
        for index, op in enumerate(node.ops):
            self.comparable(outs[index], op, outs[index + 1], node)
        if _folded_none(*outs):
            return _Out("bool", False, value=False)  # a folded None: never true
        fns = [_COMPARE[op] for op in node.ops]
        if len(outs) == 2:
            left, right = outs
            if left.fn is not None and right.fn is None:
                fn = ops.compare_fc(fns[0], left.fn, right.value)
            elif left.fn is None and right.fn is not None:
                fn = ops.compare_fc(_COMPARE[_FLIPPED[node.ops[0]]], right.fn, left.value)
            else:
                fn = ops.compare_ff(fns[0], left.getter, right.getter)
        elif len(outs) == 3 and outs[0].fn is None and outs[2].fn is None and outs[1].fn:
            low, middle, high = outs
            fn = ops.between(fns[0], low.value, outs[1].fn, fns[1], high.value)
        else:
            rest = [(op, out.operand) for op, out in zip(fns, outs[1:], strict=True)]
            fn = ops.chain(outs[0].operand, rest)
        return self.folded("bool", False, fn, *outs)

    def member(self, node: Member) -> _Out:
        subject = self.node(node.operand)
        for const in node.values:
            kind = _kind_of(const.value)
            if kind == "none":
                raise ExpressionError(
                    "None never matches `in`; ask `x is None` instead",
                    text=self.text,
                    column=const.column,
                )
            if not ((kind in _NUMBERS and subject.kind in _NUMBERS) or kind == subject.kind):
                raise self.fail(
                    f"cannot look for {_describe(subject.kind)} in a list holding"
                    f" {kind} {const.value!r}",
                    node,
                )
        values = frozenset(const.value for const in node.values)
        fn = ops.member(subject.getter, values, node.negated)
        return self.folded("bool", False, fn, subject)

    def is_none(self, node: IsNone) -> _Out:
        subject = self.node(node.operand)
        if not subject.nullable:
            what = node.operand.name if isinstance(node.operand, Name) else "this value"
            answer = "true" if node.negated else "false"
            raise self.fail(f"{what} is never None, so this test is always {answer}", node)
        return self.folded("bool", False, ops.is_none(subject.getter, node.negated), subject)

    def call(self, node: Call) -> _Out:
        args = [self.node(arg) for arg in node.args]
        for out, arg in zip(args, node.args, strict=True):
            if out.kind not in _NUMBERS:
                raise self.fail(f"{node.function}() needs numbers, got {_describe(out.kind)}", arg)
        nullable = any(out.nullable for out in args)
        kind = _number_kind(*args)
        if node.function == "round":
            if len(args) == 2:
                digits = args[1]
                if digits.fn is not None or digits.kind != "int":
                    raise self.fail(
                        "round()'s second argument must be a whole-number constant", node
                    )
                kind = args[0].kind
            else:
                kind = "int"
                nullable = nullable or args[0].kind == "float"  # round(inf) is None
        if _folded_none(*args):
            return _Out(kind, True, value=None)
        fn = ops.call(_FUNCTIONS[node.function], [out.operand for out in args])
        return self.folded(kind, nullable, fn, *args)
