"""What happened to each loan during a replay: the first day it reached each DPD mark.

Outcomes come from the replay itself, so any lender can measure on its own
history: after every step the replay shows the loan's state to an
`OutcomeTracker`, which keeps, per loan, the first day a step saw DPD at or
over each mark (30, 60, 90 and the backtest's outcome DPD), the day it was
written off, and the days it was active (from its disbursement to the day it
was repaid or written off, else to the end of the replay).

A step happens on every day the worker's clock would wake the loan; the
policy's ``wake_at_dpd`` marks (1, 8, 30, 60, 90 by default) are among those
days, so for those marks the day is exact. For any other mark it is the first
step at or over it, which is what the monitor itself could have known.

>>> from datetime import date
>>> tracker = OutcomeTracker((30, 60))
>>> tracker.see("L1", date(2024, 1, 1), dpd=0, status="active")
>>> tracker.see("L1", date(2024, 3, 1), dpd=30, status="active")
>>> tracker.see("L1", date(2024, 3, 31), dpd=60, status="written_off")
>>> tracker.see("L1", date(2024, 4, 30), dpd=90, status="written_off")  # ended: ignored
>>> found = tracker.outcomes(end=date(2024, 6, 30))["L1"]
>>> [str(d) for d in (found.reached[60], found.written_off, found.last_day, found.bad_day(30))]
['2024-03-31', '2024-03-31', '2024-03-31', '2024-03-01']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from rules.loan import ACTIVE, WRITTEN_OFF

__all__ = ["LoanOutcome", "OutcomeTracker"]

_EMPTY: Mapping[int, date] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class LoanOutcome:
    """One loan's replayed history, as the metrics need it."""

    loan_id: str
    first_day: date
    """The day of its first step (its disbursement)."""
    last_day: date
    """Its last active day: the day it was repaid or written off, else the replay's end."""
    ended: bool
    """Repaid or written off during the replay: nothing can happen to it afterwards."""
    reached: Mapping[int, date] = field(default_factory=lambda: _EMPTY)
    """DPD mark -> the first day a step saw DPD at or over it."""
    written_off: date | None = None

    @property
    def active_days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def bad_day(self, outcome_dpd: int) -> date | None:
        """The first day the loan reached ``outcome_dpd`` or was written off, if it did."""
        days = [d for mark, d in self.reached.items() if mark >= outcome_dpd]
        if self.written_off is not None:
            days.append(self.written_off)
        return min(days, default=None)


@dataclass(slots=True)
class _Track:
    first: date
    last: date
    ended: bool = False
    reached: dict[int, date] = field(default_factory=dict)
    written_off: date | None = None


class OutcomeTracker:
    """Collects each loan's outcome from the states a replay shows it, step by step."""

    __slots__ = ("_low", "_marks", "_tracks")

    def __init__(self, marks: Iterable[int]) -> None:
        self._marks = tuple(sorted(set(marks)))
        self._low = self._marks[0] if self._marks else 1 << 30
        self._tracks: dict[str, _Track] = {}

    def see(self, loan_id: str, day: date, *, dpd: int, status: str) -> None:
        """The loan's DPD and status after a step dated ``day``."""
        track = self._tracks.get(loan_id)
        if track is None:
            track = self._tracks[loan_id] = _Track(day, day)
        elif track.ended:
            return
        if dpd >= self._low:
            for mark in self._marks:
                if dpd >= mark and mark not in track.reached:
                    track.reached[mark] = day
        if status != ACTIVE:
            track.ended = True
            track.last = day
            if status == WRITTEN_OFF:
                track.written_off = day

    def outcomes(self, end: date) -> dict[str, LoanOutcome]:
        """Every loan seen, its activity running to ``end`` (the replay's last day) unless
        it ended before."""
        return {
            loan_id: LoanOutcome(
                loan_id,
                track.first,
                track.last if track.ended else max(end, track.first),
                track.ended,
                MappingProxyType(dict(track.reached)),
                track.written_off,
            )
            for loan_id, track in self._tracks.items()
        }
