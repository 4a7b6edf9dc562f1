"""The delinquency clock: which loans must be woken on a day, without visiting the rest.

A missed payment is the absence of an event, so loans must be woken by time.
Waking every loan every day would cost a full table scan per day; instead each
loan says when time alone can next change it (`next_wakeup`), and a `DueIndex`
keyed by that day hands the daily tick exactly the loans with something due.

Examples
--------
>>> from datetime import date
>>> index = DueIndex()
>>> index.set("L1", date(2024, 2, 5))
>>> index.set("L2", date(2024, 3, 5))
>>> index.set("L1", date(2024, 2, 9))  # L1 was paid: its wake-up moved
>>> index.pop_due(date(2024, 2, 5))
[]
>>> index.pop_due(date(2024, 2, 10))
['L1']
>>> len(index)
1
>>> index.set("L3", date(2024, 3, 1))
>>> index.pop_due(date(2024, 3, 31), most=1), index.pop_due(date(2024, 3, 31), most=1)
(['L3'], ['L2'])
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from heapq import heapify, heappop, heappush

from rules.loan import LoanState
from rules.policy import Policy

__all__ = ["DueIndex", "next_wakeup"]


def next_wakeup(state: LoanState, policy: Policy, dpd_marks: Iterable[int] = ()) -> date | None:
    """The next day (after the loan's clock) on which time alone can change the loan.

    That is the earliest of: the cut-off of the next unpaid installment; for a
    late loan, the next bucket or class boundary and the next DPD mark (the
    policy's ``wake_at_dpd`` plus ``dpd_marks``, e.g. collection-ladder steps);
    the lapse of an open promise to pay; the end of an observation period.
    ``None`` for a closed or written-off loan: nothing happens to it by time.
    Between two wake-ups only DPD itself grows; no bucket, class, flag or
    listed mark changes.
    """
    marks = tuple(sorted(dpd_marks)) if dpd_marks else ()
    day = state.next_change_day(policy, marks)
    return None if day is None else date.fromordinal(day)


class DueIndex:
    """Loan ids by wake-up day: a heap with lazy deletion.

    `set` records a loan's next wake-up (``None``: none); re-setting a loan
    leaves its old heap entry behind, skipped when popped because it no longer
    matches, and the heap is rebuilt when stale entries outnumber live ones.
    `pop_due` returns the loans due on or before a day and forgets them (the
    caller sets them again after stepping them). ``examined`` counts heap
    entries looked at, so a test can prove a quiet day touches nothing.
    """

    __slots__ = ("_due", "_heap", "examined")

    def __init__(self) -> None:
        self._heap: list[tuple[int, str]] = []
        self._due: dict[str, int] = {}
        self.examined = 0

    def __len__(self) -> int:
        return len(self._due)

    def get(self, loan_id: str) -> date | None:
        day = self._due.get(loan_id)
        return None if day is None else date.fromordinal(day)

    def set(self, loan_id: str, day: date | None) -> None:
        if day is None:
            self._due.pop(loan_id, None)
            return
        ordinal = day.toordinal()
        if self._due.get(loan_id) == ordinal:
            return
        self._due[loan_id] = ordinal
        heappush(self._heap, (ordinal, loan_id))
        if len(self._heap) > 2 * len(self._due) + 1024:
            self._heap = [(d, loan) for loan, d in self._due.items()]
            heapify(self._heap)

    def pop_due(self, today: date, most: int | None = None) -> list[str]:
        """Loans whose wake-up day is ``today`` or earlier, earliest first.

        At most ``most`` of them when given; the others stay due for a later call.
        """
        limit = today.toordinal()
        heap, due = self._heap, self._due
        out: list[str] = []
        room = len(due) if most is None else most
        while heap and heap[0][0] <= limit and len(out) < room:
            day, loan_id = heappop(heap)
            self.examined += 1
            if due.get(loan_id) == day:
                del due[loan_id]
                out.append(loan_id)
        return out

    def pop_earliest(self, until: date) -> tuple[date, list[str]] | None:
        """The loans of the earliest wake-up day, when that day is ``until`` or earlier.

        Forgets them, like `pop_due`; ``None`` when no loan is due by ``until``.
        The event clock steps a partition through its owed days with it, one
        wake-up day at a time, as an offline replay's day-by-day loop does.
        """
        limit = until.toordinal()
        heap, due = self._heap, self._due
        while heap and due.get(heap[0][1]) != heap[0][0]:  # stale entries on top
            heappop(heap)
            self.examined += 1
        if not heap or heap[0][0] > limit:
            return None
        day = heap[0][0]
        out: list[str] = []
        while heap and heap[0][0] == day:
            _, loan_id = heappop(heap)
            self.examined += 1
            if due.get(loan_id) == day:
                del due[loan_id]
                out.append(loan_id)
        return date.fromordinal(day), out
