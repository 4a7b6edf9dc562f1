"""The PD score as a family of signals: one per threshold, with episodes like a rule's.

A threshold t alerts when a loan's PD first reaches t, stays quiet while it
holds, and may alert again only after the score fell below t: exactly a state
rule ``model.pd >= t`` with no cooldown. Until the partition's model has
learned enough outcomes its PD is withheld (read as 0.0, as the rules do).

>>> from datetime import date
>>> watch = ThresholdWatch((0.2, 0.5))
>>> day = date(2024, 3, 1)
>>> [a.signal for a in watch.see("L1", day, 0, 0.3)]
['pd>=0.2']
>>> watch.see("L1", day, 0, 0.25), [a.signal for a in watch.see("L1", day, 0, 0.6)]
([], ['pd>=0.5'])
>>> watch.see("L1", day, 0, 0.1), [a.signal for a in watch.see("L1", day, 0, 0.9)]
([], ['pd>=0.2', 'pd>=0.5'])
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Final

from streams.backtest.metrics import Alert

__all__ = ["DEFAULT_THRESHOLDS", "ThresholdWatch"]

DEFAULT_THRESHOLDS: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
SEVERITY: Final = "model"
"""The severity threshold alerts carry: they are not rules, so no severity row holds them."""


def signal_name(threshold: float) -> str:
    return f"pd>={threshold:g}"


class ThresholdWatch:
    """Open threshold episodes per loan (a bit per threshold) and the alerts they raise."""

    __slots__ = ("_names", "_open", "_thresholds")

    def __init__(self, thresholds: Iterable[float] = DEFAULT_THRESHOLDS) -> None:
        self._thresholds = tuple(sorted(set(thresholds)))
        self._names = tuple(signal_name(t) for t in self._thresholds)
        self._open: dict[str, int] = {}

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def see(self, loan_id: str, day: date, dpd: int, pd: float | None) -> list[Alert]:
        """The alerts of one scored step: thresholds the PD reached and were not open."""
        score = 0.0 if pd is None else pd
        was = self._open.get(loan_id, 0)
        now = 0
        for bit, threshold in enumerate(self._thresholds):
            if score >= threshold:
                now |= 1 << bit
        if now == was:
            return []
        if now:
            self._open[loan_id] = now
        else:
            self._open.pop(loan_id, None)
        raised = now & ~was
        return [
            Alert(loan_id, name, SEVERITY, day, dpd)
            for bit, name in enumerate(self._names)
            if raised >> bit & 1
        ]
