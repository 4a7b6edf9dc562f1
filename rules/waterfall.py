"""The repayment waterfall: how one repayment is split over a schedule.

A schedule is kept as parallel lists of integers (one list per component, one
entry per installment) rather than objects: a loan step must cost a few
microseconds, and the state is serialised for every step. ``sched[c][i]`` is
what installment ``i`` owes of component ``c`` (indexes into
`rules.policy.COMPONENTS`), ``paid[c][i]`` what has been paid of it, and
``settled[i]`` the day (ordinal) it became fully paid, 0 while it is not.

Two orders are supported (policy ``waterfall.mode``):

- ``installment``: the oldest installment first, each of its components in the
  policy's order (default fees, interest, principal), then the next installment.
- ``component``: among installments already due, the first component across all
  of them, then the next component; what is left pays later installments
  oldest first.

Both return ``(left, principal)``: what is left once the whole schedule is
paid (the caller keeps it as credit) and how much of the amount went to
principal (so the outstanding principal is kept without summing the schedule).

Examples
--------
>>> sched = ([0, 0], [300, 200], [1000, 1000])  # fees, interest, principal
>>> paid = ([0, 0], [0, 0], [0, 0])
>>> settled = [0, 0]
>>> fill_installments(1500, 738_000, 0, sched, paid, settled, (0, 1, 2))
(0, 1000)
>>> paid, settled
(([0, 0], [300, 200], [1000, 0]), [738000, 0])
"""

from __future__ import annotations

from bisect import bisect_right

__all__ = ["Components", "fill_components", "fill_installments", "remaining"]

Components = tuple[list[int], list[int], list[int]]
"""One list per component (fees, interest, principal), one entry per installment."""

_PRINCIPAL = 2


def remaining(sched: Components, paid: Components, i: int) -> int:
    """What installment ``i`` still owes, all components together."""
    return sched[0][i] - paid[0][i] + sched[1][i] - paid[1][i] + sched[2][i] - paid[2][i]


def fill_installments(
    amount: int,
    day: int,
    start: int,
    sched: Components,
    paid: Components,
    settled: list[int],
    order: tuple[int, ...],
) -> tuple[int, int]:
    """Pay installments from ``start``, oldest first, each in component order.

    Returns what is left once every installment is paid, and what went to principal.
    """
    n = len(settled)
    i = start
    principal = 0
    while amount and i < n:
        complete = True
        for c in order:
            owed = sched[c]
            have = paid[c]
            need = owed[i] - have[i]
            if need > 0:
                if amount >= need:
                    have[i] += need
                    amount -= need
                    if c == _PRINCIPAL:
                        principal += need
                else:
                    have[i] += amount
                    if c == _PRINCIPAL:
                        principal += amount
                    amount = 0
                    complete = False
                    break
        if not complete:
            break
        if not settled[i]:
            settled[i] = day
        i += 1
    return amount, principal


def fill_components(
    amount: int,
    day: int,
    start: int,
    due: list[int],
    sched: Components,
    paid: Components,
    settled: list[int],
    order: tuple[int, ...],
) -> tuple[int, int]:
    """Pay each component across the installments due by ``day``, then later ones.

    Returns what is left once every installment is paid, and what went to principal.
    """
    n_due = bisect_right(due, day)
    principal = 0
    for c in order:
        owed = sched[c]
        have = paid[c]
        for i in range(start, n_due):
            need = owed[i] - have[i]
            if need > 0:
                take = need if need < amount else amount
                have[i] += take
                amount -= take
                if c == _PRINCIPAL:
                    principal += take
                if not amount:
                    break
        if not amount:
            break
    for i in range(start, n_due):
        if not settled[i] and not remaining(sched, paid, i):
            settled[i] = day
    if amount:
        amount, more = fill_installments(
            amount, day, max(start, n_due), sched, paid, settled, order
        )
        principal += more
    return amount, principal
