"""Compiled expressions: callables over a `RuleContext` that know what they read.

A compiled `Condition` is called once per rule per step, for every loan, so
the call itself must be cheap. `Expression` is therefore a `functools.partial`
of its compiled closure: calling it goes straight from C to the closure, about
half the overhead of a Python ``__call__`` method. It also carries what the
loader and the engine need to know without running it: the source ``text``,
the vocabulary ``names`` it reads (a warning lists their values as reasons),
and whether it reads the event (which makes a rule an *event* rule), and for a
condition that tests ``event.type``, the only types on which it can be true
(``event_types``, see `rules.lang.guards`).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from rules.vocabulary import RuleContext

__all__ = ["Condition", "Expression", "ValueKind"]

ValueKind = Literal["int", "float", "str", "bool"]


class Expression(partial[Any]):
    """A compiled rule expression; ``expr(ctx)`` evaluates it and never raises on None.

    Immutable: attributes are fixed at compile time. Two expressions are equal
    when they have the same class, text and result type.
    """

    __slots__ = ("event_types", "kind", "names", "nullable", "split", "text", "uses_event")

    text: str
    names: frozenset[str]
    uses_event: bool
    event_types: frozenset[str] | None
    """The event types on which the value can be true; ``None``: any type, or unknown."""
    kind: ValueKind
    nullable: bool
    split: tuple[Any, Any] | None
    """(getter, test of its value) when the value is one C-only test of one name."""

    def __new__(
        cls,
        function: Any,
        /,
        *,
        text: str,
        names: frozenset[str],
        kind: ValueKind,
        nullable: bool,
        event_types: frozenset[str] | None = None,
        split: tuple[Any, Any] | None = None,
    ) -> Expression:
        self = super().__new__(cls, function)
        for attribute, value in (
            ("text", text),
            ("names", names),
            ("uses_event", any(name.startswith("event.") for name in names)),
            ("event_types", event_types),
            ("split", split),
            ("kind", kind),
            ("nullable", nullable),
        ):
            object.__setattr__(self, attribute, value)
        return self

    if TYPE_CHECKING:

        def __call__(self, ctx: RuleContext, /) -> Any: ...

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Expression) or type(other) is not type(self):
            return NotImplemented
        return (self.text, self.kind, self.nullable) == (other.text, other.kind, other.nullable)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.text, self.kind))

    def __reduce__(self) -> tuple[Any, ...]:
        # Closures do not pickle; a rule pack travels as its YAML text instead.
        raise TypeError(f"{type(self).__name__} cannot be pickled; send the pack text")


class Condition(Expression):
    """A compiled expression of type bool: ``cond(ctx)`` is always ``True`` or ``False``."""

    __slots__ = ()

    if TYPE_CHECKING:

        def __call__(self, ctx: RuleContext, /) -> bool: ...
