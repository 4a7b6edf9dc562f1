"""A seeded synthetic loan book: every loan's events merged into one time-ordered stream.

Everything random is drawn from `random.Random` instances seeded from the
book's seed (one for the origination calendar, one per loan), never from the
global RNG, so the same seed gives a byte-identical stream on any machine, and
one loan's story does not depend on how many loans are beside it.

The merge is lazy: a loan is created only when the stream reaches its
disbursement, holds about one window of drafted events, and is dropped with
its label once its last event is out. The merge heap holds one entry per live
loan, so memory grows with the number of loans, never with the number of
events.

>>> book = LoanBook(BookSpec(loans=3, months=4, seed=7))
>>> events = list(book)
>>> events[0].type
'loan_disbursed'
>>> all(a.event_time <= b.event_time for a, b in zip(events, events[1:]))
True
>>> [label.loan_id for label in book.labels()]
['sim-7-0000000', 'sim-7-0000001', 'sim-7-0000002']
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from heapq import heappop, heappush, heapreplace
from typing import Final

from rules import Event
from streams.simulate.behaviour import make_loan
from streams.simulate.exceptions import SimulateError
from streams.simulate.loan import LoanSim, LoanTerms
from streams.simulate.products import build_schedule, pick_product
from streams.simulate.profiles import pick_profile
from streams.simulate.timeline import (
    DAY,
    HOUR,
    add_months,
    date_to_day,
    day_start,
    day_to_date,
    local_day,
)
from streams.simulate.truth import LoanLabel

__all__ = ["DEFAULT_START", "BookSpec", "BookStats", "LoanBook"]

DEFAULT_START: Final = date(2024, 1, 1)
"""First day of the simulated period unless told otherwise: fixed, so runs repeat."""
MAX_LOANS: Final = 10_000_000
MAX_MONTHS: Final = 120


@dataclass(frozen=True, slots=True)
class BookSpec:
    """What to simulate: how many loans, over how many months, from which seed and day."""

    loans: int
    months: int
    seed: int
    start: date = DEFAULT_START

    def __post_init__(self) -> None:
        if not 1 <= self.loans <= MAX_LOANS:
            raise SimulateError(f"loans must be 1..{MAX_LOANS}, got {self.loans}")
        if not 1 <= self.months <= MAX_MONTHS:
            raise SimulateError(f"months must be 1..{MAX_MONTHS}, got {self.months}")

    @property
    def origination_months(self) -> int:
        """Loans are paid out over the first third of the period, so each has history after."""
        return max(1, self.months // 3)


@dataclass(slots=True)
class BookStats:
    """What a run of the merge held at its peak: evidence that memory stays bounded."""

    events: int = 0
    loans_started: int = 0
    loans_finished: int = 0
    max_live_loans: int = 0
    """Peak size of the merge heap (one entry per loan between its first and last event)."""
    max_pending_per_loan: int = 0
    """Peak number of drafted, not yet released events inside any one loan."""


class LoanBook:
    """The simulated book. Iterate it for events; ask `labels` for the ground truth."""

    def __init__(self, spec: BookSpec) -> None:
        self.spec = spec
        first = date_to_day(spec.start)
        self.start_ts = day_start(first)
        self.end_ts = day_start(date_to_day(add_months(spec.start, spec.months, 1)))
        origination_end = date_to_day(add_months(spec.start, spec.origination_months, 1))
        self._origination_days = origination_end - first

    def __iter__(self) -> Iterator[Event]:
        return self.events()

    def events(
        self,
        *,
        on_label: Callable[[LoanLabel], None] | None = None,
        stats: BookStats | None = None,
    ) -> Iterator[Event]:
        """All events of the book in non-decreasing event time (ties: by loan, then loan order).

        ``on_label`` receives each loan's `LoanLabel` as soon as its last event
        is out, so one pass yields both the stream and the truth.
        """
        stats = stats if stats is not None else BookStats()
        starts = self._starts()
        heap: list[tuple[int, int, Event, Iterator[tuple[int, Event]], LoanSim]] = []
        position = 0
        while True:
            # Admit every loan disbursed no later than the earliest pending event.
            while position < len(starts) and (not heap or starts[position][0] <= heap[0][0]):
                start_ts, index = starts[position]
                position += 1
                loan = self._loan(index, start_ts)
                stream = loan.events()
                stats.loans_started += 1
                first = next(stream, None)
                if first is None:
                    self._finished(loan, on_label, stats)
                    continue
                heappush(heap, (first[0], index, first[1], stream, loan))
                stats.max_live_loans = max(stats.max_live_loans, len(heap))
            if not heap:
                return
            _, index, event, stream, loan = heap[0]
            stats.events += 1
            yield event
            following = next(stream, None)
            if following is None:
                heappop(heap)
                self._finished(loan, on_label, stats)
            else:
                heapreplace(heap, (following[0], index, following[1], stream, loan))

    def labels(self) -> Iterator[LoanLabel]:
        """Each loan's ground truth in loan order, simulating loans one at a time."""
        for start_ts, index in sorted(self._starts(), key=lambda pair: pair[1]):
            loan = self._loan(index, start_ts)
            for _ in loan.events():
                pass
            yield loan.label()

    def _finished(
        self, loan: LoanSim, on_label: Callable[[LoanLabel], None] | None, stats: BookStats
    ) -> None:
        stats.loans_finished += 1
        stats.max_pending_per_loan = max(stats.max_pending_per_loan, loan.max_pending)
        if on_label is not None:
            on_label(loan.label())

    def _starts(self) -> list[tuple[int, int]]:
        """(disbursement time, loan index) for every loan, in time order."""
        rng = random.Random(f"loanwatch-sim:{self.spec.seed}:book")  # noqa: S311 - not crypto
        starts = [
            (
                self.start_ts
                + rng.randrange(self._origination_days) * DAY
                + rng.randrange(9 * HOUR, 17 * HOUR),
                index,
            )
            for index in range(self.spec.loans)
        ]
        starts.sort()
        return starts

    def _loan(self, index: int, start_ts: int) -> LoanSim:
        seed = self.spec.seed
        rng = random.Random(f"loanwatch-sim:{seed}:{index}")  # noqa: S311 - a simulation
        profile = pick_profile(rng)
        product, principal, rate = pick_product(rng)
        disbursed = day_to_date(local_day(start_ts))
        due_day = min(disbursed.day, 28)
        schedule = build_schedule(
            principal,
            rate,
            product.months,
            product.method,
            add_months(disbursed, 1, due_day),
            fee=product.monthly_fee,
        )
        terms = LoanTerms(seed, index, start_ts, self.end_ts, product, principal, rate, schedule)
        return make_loan(rng, profile, terms)
