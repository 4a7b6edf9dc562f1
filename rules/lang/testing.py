"""Hand-built contexts for testing rules without the loan state machine.

A rule author (or a test) wants to ask "does this rule fire for a loan 45 days
late whose salary stopped?" without replaying a loan's history. `sample_context`
builds a `RuleContext` from plain namespaces that carry *every* vocabulary
attribute, with neutral values (a current, normal, active loan with no
signals), and applies only the overrides given. Overrides must be vocabulary
names, so a typo in a test fails loudly instead of testing nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from types import MappingProxyType, SimpleNamespace
from typing import Any

from rules.vocabulary import VOCABULARY, RuleContext, Var

__all__ = ["neutral_values", "recording_vocabulary", "sample_context"]

_NEUTRAL: dict[str, Any] = {"int": 0, "float": 0.0, "str": "", "bool": False}
_NEUTRAL_TEXT = {
    "loan.bucket": "M0",
    "loan.klass": "normal",
    "loan.status": "active",
}
_DAY = date(2024, 1, 15)


def neutral_values(prefix: str, vocabulary: Mapping[str, Var] = VOCABULARY) -> dict[str, Any]:
    """Attribute -> neutral value for every vocabulary name under ``prefix`` (``loan``).

    Nullable names start as None (nothing known yet), the others as zero,
    false, or the label of a healthy loan.

    >>> values = neutral_values("loan")
    >>> values["dpd"], values["bucket"], values["days_to_next_due"]
    (0, 'M0', None)
    """
    values: dict[str, Any] = {}
    for name, var in vocabulary.items():
        head, _, attr = name.partition(".")
        if head == prefix:
            neutral = _NEUTRAL_TEXT.get(name, _NEUTRAL[var.type])
            values[attr] = None if var.nullable else neutral
    return values


def sample_context(
    *,
    loan: Mapping[str, Any] | None = None,
    features: Mapping[str, Any] | None = None,
    event: Mapping[str, Any] | None = None,
    scores: Mapping[str, float] | None = None,
    today: date = _DAY,
) -> RuleContext:
    """A `RuleContext` of neutral values with the given overrides.

    ``event`` is None for a clock tick, else the event's fields (``type`` first
    among them); event fields not given read as None, as for a real event
    that lacks them.

    >>> ctx = sample_context(loan={"dpd": 31, "bucket": "M2"})
    >>> ctx.loan.dpd, ctx.loan.klass, ctx.event
    (31, 'normal', None)
    >>> sample_context(loan={"dpdd": 31})
    Traceback (most recent call last):
    ...
    KeyError: 'not in the vocabulary: loan.dpdd'
    """
    return RuleContext(
        loan=SimpleNamespace(**_merge("loan", loan)),
        features=SimpleNamespace(**_merge("features", features)),
        event=None if event is None else SimpleNamespace(**event),
        scores=dict(scores or {}),
        today=today,
        now=datetime(today.year, today.month, today.day, 12, tzinfo=UTC),
    )


def _merge(prefix: str, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    values = neutral_values(prefix)
    for attr, value in (overrides or {}).items():
        if attr not in values:
            raise KeyError(f"not in the vocabulary: {prefix}.{attr}")
        values[attr] = value
    return values


def recording_vocabulary(value: Any = 1) -> tuple[Mapping[str, Var], list[str]]:
    """The vocabulary with getters that record each read (and return ``value``).

    Proves what a piece of code reads, or that it reads nothing at all (the
    compiler never does: it decides from names and types alone).

    >>> from rules.lang import compile_condition
    >>> vocabulary, reads = recording_vocabulary()
    >>> cond = compile_condition("loan.dpd > 0", vocabulary)
    >>> reads
    []
    >>> cond(None), reads
    (True, ['loan.dpd'])
    """
    reads: list[str] = []

    def recorder(name: str) -> Callable[[RuleContext], Any]:
        def read(ctx: RuleContext) -> Any:
            reads.append(name)
            return value

        return read

    recording = {
        name: Var(var.type, recorder(name), var.doc, var.nullable, var.currency)
        for name, var in VOCABULARY.items()
    }
    return MappingProxyType(recording), reads
