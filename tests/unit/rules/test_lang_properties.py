"""Properties over generated rule text: what compiles evaluates without raising, and
agrees with Python wherever Python itself does not raise; anything else is refused
with an ExpressionError and nothing is read."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rules.lang import ExpressionError, compile_condition, compile_expression
from rules.lang.ops import WHOLE_LIMIT
from rules.lang.testing import recording_vocabulary
from rules.vocabulary import VOCABULARY, RuleContext, Var

PROFILE = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _names(*kinds: str, nullable: bool | None = None) -> list[str]:
    return sorted(
        name
        for name, var in VOCABULARY.items()
        if var.type in kinds and (nullable is None or var.nullable == nullable)
    )


NUMBER_NAMES = _names("int", "float")
TEXT_NAMES = _names("str")
BOOL_NAMES = _names("bool")
NULLABLE_NAMES = _names("int", "float", "str", "bool", nullable=True)

number_literal = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.sampled_from(["0", "0.0", "0.5", "1e300", "2.5"]),
)
text_literal = st.sampled_from(["'M1'", "'M6+'", "'partial'", "''", "'tick'", "'逾期'"])


def _numbers(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(inner, inner)
    return st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "%", "//"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda x: f"(-{x})"),
        inner.map(lambda x: f"abs({x})"),
        inner.map(lambda x: f"round({x})"),
        st.tuples(inner, st.integers(-2, 3)).map(lambda t: f"round({t[0]}, {t[1]})"),
        pair.map(lambda t: f"max({t[0]}, {t[1]})"),
        pair.map(lambda t: f"min({t[0]}, {t[1]})"),
    )


numbers = st.recursive(
    st.one_of(st.sampled_from(NUMBER_NAMES), number_literal), _numbers, max_leaves=6
)
texts = st.one_of(st.sampled_from(TEXT_NAMES), text_literal)
ORDER = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])


def _bools(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda x: f"(not {x})"),
    )


comparisons = st.one_of(
    st.sampled_from(BOOL_NAMES),
    st.tuples(numbers, ORDER, numbers).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
    st.tuples(numbers, ORDER, numbers, ORDER, numbers).map(
        lambda t: f"({t[0]} {t[1]} {t[2]} {t[3]} {t[4]})"
    ),
    st.tuples(texts, ORDER, texts).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
    st.tuples(numbers, st.sampled_from(["in", "not in"])).map(
        lambda t: f"({t[0]} {t[1]} (0, 1, 2.5))"
    ),
    st.tuples(texts, st.sampled_from(["in", "not in"])).map(
        lambda t: f"({t[0]} {t[1]} ('M1', 'M2'))"
    ),
    st.tuples(st.sampled_from(NULLABLE_NAMES), st.sampled_from(["is", "is not"])).map(
        lambda t: f"({t[0]} {t[1]} None)"
    ),
)
conditions = st.recursive(comparisons, _bools, max_leaves=6)


def _value(var: Var, allow_none: bool) -> st.SearchStrategy[Any]:
    base: st.SearchStrategy[Any] = {
        "int": st.one_of(st.integers(-5, 5), st.integers(), st.just(10**400)),
        "float": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(0.0)),
        "str": st.sampled_from(["M1", "M2", "", "partial", "tick", "逾期"]),
        "bool": st.booleans(),
    }[var.type]
    return st.one_of(st.none(), base) if allow_none and var.nullable else base


@st.composite
def contexts(draw: st.DrawFn, allow_none: bool = True) -> RuleContext:
    parts: dict[str, dict[str, Any]] = {"loan": {}, "features": {}, "event": {}}
    for name, var in VOCABULARY.items():
        head, _, attr = name.partition(".")
        if head in parts and name != "event.promise_made":
            parts[head][attr] = draw(_value(var, allow_none))
    parts["event"]["promise_to_pay"] = draw(st.sampled_from([None, object()]))
    is_tick = allow_none and draw(st.booleans())
    return RuleContext(
        loan=SimpleNamespace(**parts["loan"]),
        features=SimpleNamespace(**parts["features"]),
        event=None if is_tick else SimpleNamespace(**parts["event"]),
        scores={"pd": draw(st.floats(0, 1)), "anomaly": draw(st.floats(0, 1))},
        today=None,  # type: ignore[arg-type]
        now=None,  # type: ignore[arg-type]
    )


def _compile_or_skip(text: str) -> Any:
    try:
        return compile_condition(text)
    except ExpressionError as exc:
        # Well-typed text is refused only when it reads nothing (it is a constant)
        # or asks `is None` of a value that can never be None.
        assert "constant" in exc.reason or "never None" in exc.reason, (text, exc.reason)
        assume(False)


@PROFILE
@given(text=conditions, ctx=contexts())
def test_whitelisted_conditions_compile_and_never_raise(text: str, ctx: RuleContext) -> None:
    cond = _compile_or_skip(text)

    assert cond(ctx) in (True, False)
    assert type(cond(ctx)) is bool


@PROFILE
@given(
    name=st.sampled_from(NUMBER_NAMES),
    op=st.sampled_from(["+", "/", "%"]),
    rest=numbers,
    ctx=contexts(),
)
def test_numeric_expressions_never_raise(name: str, op: str, rest: str, ctx: RuleContext) -> None:
    try:
        expr = compile_expression(f"{name} {op} {rest}")
    except ExpressionError as exc:
        assert "constant (None)" in exc.reason  # `rest` folded to None (it divides by zero)
        assume(False)

    value = expr(ctx)

    assert value is None or isinstance(value, int | float)


def _python_view(ctx: RuleContext) -> dict[str, Any]:
    namespace: dict[str, Any] = {"loan": SimpleNamespace(), "features": SimpleNamespace()}
    namespace.update(event=SimpleNamespace(), model=SimpleNamespace())
    for name, var in VOCABULARY.items():
        head, _, attr = name.partition(".")
        setattr(namespace[head], attr, var.getter(ctx))
    namespace["__builtins__"] = {"abs": abs, "max": max, "min": min, "round": _round}
    return namespace


def _round(value: Any, digits: int | None = None) -> Any:
    """Python's round, except where the language deliberately differs: a whole number
    past 64 bits (`rules.lang.ops.bounded_round` gives None) is no comparison to make."""
    result = round(value, digits)
    if isinstance(result, int) and abs(result) > WHOLE_LIMIT:
        raise OverflowError("beyond the language's whole numbers")
    return result


@PROFILE
@given(text=conditions, ctx=contexts(allow_none=False))
def test_conditions_agree_with_python_where_python_does_not_raise(
    text: str, ctx: RuleContext
) -> None:
    cond = _compile_or_skip(text)
    namespace = _python_view(ctx)
    assume(
        all(getattr(namespace[n.split(".")[0]], n.split(".")[1]) is not None for n in cond.names)
    )
    try:
        # The oracle: plain Python on the same values (test code only, never in rules/).
        expected = bool(eval(text, namespace))  # noqa: S307
    except (ArithmeticError, ValueError, TypeError):
        assume(False)

    assert cond(ctx) is expected


@PROFILE
@given(
    tokens=st.lists(
        st.sampled_from(
            [
                "loan.dpd",
                "loan.bucket",
                "event.kind",
                "features.balance",
                "__class__",
                "__import__",
                "(",
                ")",
                "[",
                "]",
                ".",
                ",",
                ":",
                "lambda",
                "for",
                "in",
                "not",
                "and",
                "or",
                "is",
                "None",
                "if",
                "else",
                "==",
                "<",
                "+",
                "**",
                "*",
                "/",
                "'x'",
                "1",
                "0",
                "-",
                "open",
                "max",
                "round",
                "{",
                "}",
                "=",
                ":=",
                "@",
                "yield",
                "await",
                "f'{1}'",
                "\\",
                "#",
            ]
        ),
        max_size=12,
    )
)
def test_any_text_is_compiled_or_refused_cleanly_without_reading_values(tokens: list[str]) -> None:
    vocabulary, reads = recording_vocabulary()
    try:
        cond = compile_condition(" ".join(tokens), vocabulary)
    except ExpressionError:
        cond = None

    assert reads == []
    assert cond is None or cond.names
