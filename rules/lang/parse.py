"""Rule text to a small syntax tree, through a whitelist of Python's grammar.

Conditions look like Python (``loan.dpd >= 30 and features.outflow_30d > 0``)
so analysts can read them, and Python's own parser (`ast` in ``eval`` mode)
reads them. But only a handful of node types are let through: anything else
(subscripts, lambdas, comprehensions, method calls, dunder names, f-strings,
``**``) is refused here, before a single value is looked at. What comes out is
this module's own tree of frozen nodes, so the compiler never sees Python's
AST and cannot be tricked by a node it did not expect.

Vocabulary names are not checked here (that needs the vocabulary and its
types, see `rules.lang.compile`); only their shape: a dotted chain of plain
identifiers.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Literal

from rules.lang.exceptions import ExpressionError

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "Binary",
    "Call",
    "Compare",
    "Const",
    "IsNone",
    "Logic",
    "Member",
    "Name",
    "Node",
    "Unary",
    "parse",
]

MAX_LENGTH = 2000
"""Longest rule text accepted: a condition is a sentence, not a program."""

MAX_DEPTH = 40
"""Deepest nesting accepted; keeps compiling and evaluating far from recursion limits."""

FUNCTIONS = ("abs", "max", "min", "round")
"""The only callables: pure, total (with None handling), and cheap."""

Scalar = int | float | str | bool | None
CompareOp = Literal["<", "<=", ">", ">=", "==", "!="]
ArithOp = Literal["+", "-", "*", "/", "%", "//"]


@dataclass(frozen=True, slots=True)
class Const:
    value: Scalar
    column: int
    source: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Name:
    """A dotted name such as ``loan.dpd`` (resolved against the vocabulary later)."""

    name: str
    column: int
    source: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Unary:
    op: Literal["-", "not"]
    operand: Node
    column: int
    source: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Binary:
    op: ArithOp
    left: Node
    right: Node
    column: int
    source: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Logic:
    op: Literal["and", "or"]
    operands: tuple[Node, ...]
    column: int
    source: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Compare:
    """``a < b <= c``: ``len(ops) == len(operands) - 1``; each operand is read once."""

    operands: tuple[Node, ...]
    ops: tuple[CompareOp, ...]
    column: int
    source: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Member:
    """``x in ('a', 'b')`` or ``x not in (...)``, against literal values only."""

    operand: Node
    values: tuple[Const, ...]
    negated: bool
    column: int
    source: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class IsNone:
    """``x is None`` / ``x is not None``: the one way to ask about a missing value."""

    operand: Node
    negated: bool
    column: int
    source: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    args: tuple[Node, ...]
    column: int
    source: str = field(default="", repr=False, compare=False)


Node = Const | Name | Unary | Binary | Logic | Compare | Member | IsNone | Call

_COMPARE: dict[type[ast.cmpop], CompareOp] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
}
_ARITH: dict[type[ast.operator], ArithOp] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Mod: "%",
    ast.FloorDiv: "//",
}
_OPERATOR_SPELLING: dict[type[ast.AST], str] = {
    ast.Pow: "**",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "& (use `and`)",
    ast.BitOr: "| (use `or`)",
    ast.BitXor: "^",
    ast.Invert: "~ (use `not`)",
    ast.UAdd: "unary +",
}
_REFUSED: dict[type[ast.AST], str] = {
    ast.Subscript: "subscripts",
    ast.Slice: "slices",
    ast.Lambda: "lambdas",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.IfExp: "conditional expressions (x if c else y)",
    ast.NamedExpr: "assignment expressions (:=)",
    ast.JoinedStr: "f-strings",
    ast.FormattedValue: "f-strings",
    ast.Dict: "dicts",
    ast.Starred: "starred expressions",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.List: "lists outside `in`",
    ast.Tuple: "tuples outside `in`",
    ast.Set: "sets outside `in`",
}
_ARITY = {"abs": (1, 1), "round": (1, 2), "min": (2, 16), "max": (2, 16)}
_SNIPPET = 60


def parse(text: str) -> Node:
    """Parse rule text into the language's own tree, refusing anything off the whitelist.

    Line breaks count as spaces, so a condition may be folded over several
    lines in YAML.

    >>> parse("loan.dpd >= 30")
    Compare(operands=(Name(name='loan.dpd', column=1), Const(value=30, column=13)), ops=('>=',), column=1)
    >>> parse("loan.__class__")
    Traceback (most recent call last):
    ...
    rules.lang.exceptions.ExpressionError: dunder names are not allowed: __class__ (column 1)
    """  # noqa: E501
    spaced = text.replace("\r", " ").replace("\n", " ")
    flat = spaced.strip()
    lead = len(spaced) - len(spaced.lstrip())  # columns count in the text as given
    if not flat:
        raise ExpressionError("empty expression", text=text)
    if len(flat) > MAX_LENGTH:
        raise ExpressionError(f"longer than {MAX_LENGTH} characters", text=text)
    try:
        tree = ast.parse(flat, mode="eval")
    except SyntaxError as exc:
        column = exc.offset if exc.offset and exc.offset > 0 else None
        reason = "invalid syntax" if exc.msg == "invalid syntax" else f"invalid syntax: {exc.msg}"
        if (
            column is not None
            and flat[column - 1 : column + 1].startswith("=")
            and (flat[column - 1 : column + 1] != "==")
        ):
            reason += " (compare with ==, not =)"
        column = None if column is None else column + lead
        raise ExpressionError(reason, text=text, column=column) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionError(f"cannot parse: {type(exc).__name__}", text=text) from None
    return _Converter(flat, lead, text).node(tree.body, 0)


class _Converter:
    """Walks Python's AST once; every branch either builds a node or raises."""

    def __init__(self, text: str, lead: int, original: str) -> None:
        self.text = text  # what was parsed: one line, stripped
        self.lead = lead
        self.original = original

    def fail(self, reason: str, node: ast.AST) -> ExpressionError:
        return ExpressionError(reason, text=self.original, column=self.column(node))

    def column(self, node: ast.AST) -> int:
        # ast offsets count UTF-8 bytes; people count characters.
        offset = getattr(node, "col_offset", 0)
        return self.lead + len(self.text.encode()[:offset].decode(errors="ignore")) + 1

    def snippet(self, node: ast.AST) -> str:
        segment = ast.get_source_segment(self.text, node) or type(node).__name__
        return segment if len(segment) <= _SNIPPET else segment[: _SNIPPET - 3] + "..."

    def node(self, node: ast.expr, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH} levels", node)
        depth += 1
        column, source = self.column(node), self.snippet(node)
        match node:
            case ast.Constant(value=value):
                return self.constant(node, value)
            case ast.Name() | ast.Attribute():
                return Name(self.dotted(node), column, source)
            case ast.BoolOp(op=op, values=values):
                kind: Literal["and", "or"] = "and" if isinstance(op, ast.And) else "or"
                return Logic(kind, tuple(self.node(v, depth) for v in values), column, source)
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return Unary("not", self.node(operand, depth), column, source)
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                inner = self.node(operand, depth)
                if isinstance(inner, Const) and _is_number(inner.value):
                    return Const(-inner.value, column, source)  # type: ignore[operator]
                return Unary("-", inner, column, source)
            case ast.BinOp(left=left, op=op, right=right) if type(op) in _ARITH:
                arith = _ARITH[type(op)]
                return Binary(
                    arith, self.node(left, depth), self.node(right, depth), column, source
                )
            case ast.Compare():
                return self.compare(node, depth)
            case ast.Call():
                return self.call(node, depth)
            case ast.BinOp(op=op) | ast.UnaryOp(op=op):
                spelling = _OPERATOR_SPELLING.get(type(op), type(op).__name__)
                raise self.fail(f"operator {spelling} is not allowed: {self.snippet(node)}", node)
        what = _REFUSED.get(type(node), type(node).__name__)
        raise self.fail(f"{what} are not allowed: {self.snippet(node)}", node)

    def constant(self, node: ast.expr, value: object) -> Const:
        if value is None or isinstance(value, bool | int | float | str):
            return Const(value, self.column(node), self.snippet(node))
        raise self.fail(f"constants of type {type(value).__name__} are not allowed", node)

    def dotted(self, node: ast.expr) -> str:
        parts: list[str] = []
        current = node
        while isinstance(current, ast.Attribute):
            parts.append(current.attr)
            current = current.value
        if not isinstance(current, ast.Name):
            raise self.fail(
                "attribute access is only allowed on vocabulary names such as loan.dpd: "
                + self.snippet(node),
                node,
            )
        parts.append(current.id)
        for part in parts:
            if part.startswith("__"):
                raise self.fail(f"dunder names are not allowed: {part}", node)
        if len(parts) == 1 and parts[0] in FUNCTIONS:
            raise self.fail(f"{parts[0]} is a function: call it, as in {parts[0]}(a, b)", node)
        return ".".join(reversed(parts))

    def compare(self, node: ast.Compare, depth: int) -> Node:
        column, source = self.column(node), self.snippet(node)
        kinds = [type(op) for op in node.ops]
        special = [k for k in kinds if k not in _COMPARE]
        if special and len(kinds) > 1:
            raise self.fail(
                f"`in` and `is` cannot be chained with other comparisons: {self.snippet(node)}",
                node,
            )
        left, right = node.left, node.comparators[0]
        if special and special[0] in (ast.In, ast.NotIn):
            values = self.literal_list(right, depth)
            negated = special[0] is ast.NotIn
            return Member(self.node(left, depth), values, negated, column, source)
        if special and special[0] in (ast.Is, ast.IsNot):
            if not (isinstance(right, ast.Constant) and right.value is None):
                raise self.fail("`is` is only for None (x is None); use == for values", node)
            return IsNone(self.node(left, depth), special[0] is ast.IsNot, column, source)
        if special:  # pragma: no cover - Python has no other comparison operators
            raise self.fail(f"comparison {special[0].__name__} is not allowed", node)
        operands = (left, *node.comparators)
        for operand in operands:
            if isinstance(operand, ast.Constant) and operand.value is None:
                raise self.fail(
                    "compare with None using `is None` or `is not None`, not == or <", node
                )
        return Compare(
            tuple(self.node(o, depth) for o in operands),
            tuple(_COMPARE[k] for k in kinds),
            column,
            source,
        )

    def literal_list(self, node: ast.expr, depth: int) -> tuple[Const, ...]:
        if not isinstance(node, ast.List | ast.Tuple | ast.Set):
            raise self.fail(
                "the right side of `in` must be a literal list such as ('M1', 'M2'): "
                + self.snippet(node),
                node,
            )
        values: list[Const] = []
        for item in node.elts:
            converted = self.node(item, depth)
            if not isinstance(converted, Const):
                raise self.fail(
                    f"`in` lists may hold only constants, not {self.snippet(item)}", item
                )
            values.append(converted)
        if not values:
            raise self.fail("an empty `in` list never matches", node)
        return tuple(values)

    def call(self, node: ast.Call, depth: int) -> Call:
        func = node.func
        allowed = ", ".join(FUNCTIONS)
        if isinstance(func, ast.Attribute):
            raise self.fail(f"method calls are not allowed: {self.snippet(node)}", node)
        if not isinstance(func, ast.Name):
            raise self.fail(f"only {allowed} can be called: {self.snippet(node)}", node)
        name = func.id
        if name.startswith("__"):
            raise self.fail(f"dunder names are not allowed: {name}", node)
        if name not in FUNCTIONS:
            raise self.fail(f"calling {name} is not allowed (only {allowed})", node)
        if node.keywords:
            raise self.fail(f"{name}() takes no keyword arguments", node)
        args = tuple(self.node(arg, depth) for arg in node.args)
        low, high = _ARITY[name]
        if not low <= len(args) <= high:
            expected = str(low) if low == high else f"{low} to {high}"
            raise self.fail(f"{name}() takes {expected} arguments, got {len(args)}", node)
        return Call(name, args, self.column(node), self.snippet(node))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
