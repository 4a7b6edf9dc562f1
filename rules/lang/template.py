"""Warning messages: text with ``{vocabulary.name}`` placeholders.

``"DPD reached {loan.dpd} days ({loan.bucket}), PD {model.pd:.2f}"``. The
template is checked at load (every placeholder a vocabulary name, every format
spec valid for that name's type) and pre-split, so rendering is a join of
strings. `str.format` is never called on the template: its field syntax
(``{loan.__class__}``, ``{0[...]}``) reaches into objects, and a template is
configuration that arrives over a Kafka topic. Here a placeholder is only ever
looked up in the vocabulary, and values are formatted with `format` on the
plain value the getter returned.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from typing import Any

from rules.lang.exceptions import ExpressionError
from rules.lang.names import resolve
from rules.lang.ops import Getter
from rules.money import format_money
from rules.vocabulary import VOCABULARY, RuleContext, Var

__all__ = ["MAX_TEMPLATE_LENGTH", "MISSING", "Template", "compile_template"]

MAX_TEMPLATE_LENGTH = 1000
MISSING = "n/a"
"""What a placeholder whose value is None renders as."""

# The standard format-spec mini-language, with width and precision kept small so
# a template cannot ask for a megabyte of padding.
_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?\d{0,2}[,_]?(?:\.\d{1,2})?[bcdeEfFgGnosxX%]?")
_SAMPLE: dict[str, Any] = {"int": 1, "float": 0.5, "str": "x", "bool": True}

Part = str | tuple[Getter, str, Callable[[RuleContext], str] | None]
"""Literal text, or a placeholder: its getter, format spec, and for an amount shown
in its currency the getter of that currency."""


class Template:
    """A compiled message template; ``template.render(ctx)`` never raises.

    >>> from types import SimpleNamespace as NS
    >>> t = compile_template("DPD reached {loan.dpd} days ({loan.bucket})")
    >>> t.render(NS(loan=NS(dpd=31, bucket="M2")))
    'DPD reached 31 days (M2)'
    >>> sorted(t.names)
    ['loan.bucket', 'loan.dpd']
    >>> compile_template("{loan.overdue_total} overdue").render(
    ...     NS(loan=NS(overdue_total=50600, currency="CNY"))
    ... )
    'CNY 506.00 overdue'
    """

    __slots__ = ("_parts", "names", "text")

    def __init__(self, text: str, parts: tuple[Part, ...], names: frozenset[str]) -> None:
        self.text = text
        self.names = names
        self._parts = parts

    def render(self, ctx: RuleContext) -> str:
        out: list[str] = []
        for part in self._parts:  # one frame for the whole message: it is built per warning
            if isinstance(part, str):
                out.append(part)
                continue
            getter, spec, currency = part
            value = getter(ctx)
            if value is None:
                out.append(MISSING)
                continue
            try:
                if currency is not None:
                    out.append(format_money(value, currency(ctx)))
                else:
                    out.append(format(value, spec))
            except (ValueError, TypeError, OverflowError, AttributeError):
                # A value of an unexpected type or size still renders: `:c` of an
                # amount past 0x10FFFF is no character and raised OverflowError.
                out.append(str(value))
        return "".join(out)

    def __repr__(self) -> str:
        return f"Template({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Template) and other.text == self.text

    def __hash__(self) -> int:
        return hash(("Template", self.text))


def compile_template(text: str, vocabulary: Mapping[str, Var] = VOCABULARY) -> Template:
    """Check and pre-split a message template.

    >>> compile_template("{loan.bucket:.2f}")
    Traceback (most recent call last):
    ...
    rules.lang.exceptions.ExpressionError: format spec :.2f does not suit str loan.bucket
    """
    if not text.strip():
        raise ExpressionError("empty message", text=text)
    if len(text) > MAX_TEMPLATE_LENGTH:
        raise ExpressionError(f"longer than {MAX_TEMPLATE_LENGTH} characters", text=text)
    try:
        pieces = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ExpressionError(
            f"bad braces: {exc} (write {{{{ and }}}} for literal braces)", text=text
        ) from None
    parts: list[Part] = []
    names: set[str] = set()
    for literal, field, spec, conversion in pieces:
        if literal:
            parts.append(literal)
        if field is None:
            continue
        if not field:
            raise ExpressionError("empty placeholder {}: name a vocabulary value", text=text)
        if conversion is not None:
            raise ExpressionError(f"conversions (!{conversion}) are not allowed", text=text)
        var = resolve(field, vocabulary, text=text)
        spec = spec or ""
        _check_spec(field, var, spec, text)
        names.add(field)
        # Money shows in its currency unless the template asks for a format of its own
        # ({loan.overdue_total:d} gives the minor units as they are).
        parts.append((var.getter, spec, var.currency if not spec else None))
    return Template(text, tuple(parts), frozenset(names))


def _check_spec(field: str, var: Var, spec: str, text: str) -> None:
    if not spec:
        return
    unsuitable = ExpressionError(f"format spec :{spec} does not suit {var.type} {field}", text=text)
    if not _SPEC.fullmatch(spec):
        raise ExpressionError(f"format spec :{spec} is not allowed for {field}", text=text)
    try:
        format(_SAMPLE[var.type], spec)
    except (ValueError, TypeError):
        raise unsuitable from None
