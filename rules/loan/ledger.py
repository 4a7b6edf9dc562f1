"""The ledger replay: how time and the ledger's entries move a loan's timeline.

Everything time-ordered about repayment (repayments, reversals, promises to
pay) is kept in a bounded ledger of entries sorted by (event time, event id
hash). In-order entries are applied incrementally (`add_entry`); a reversal or
a late entry instead re-runs the timeline from its base, the state before the
first entry (`rerun`), so the result is the one in-order arrival would have
given: the final state is a function of the events, not of their arrival
order. Restructuring and write-off are barriers (`barrier_event`): the ledger
is folded into the base there. When the ledger outgrows ``policy.ledger_size``,
its oldest entries past the late window are folded into the base the same way.

Time moves the timeline too (`tick_to`): a due date D counts as missed at the
start of day D + grace + 1, promises lapse, observation periods end. A re-run
is quiet (no flags, no transitions) and reports its net effect once, dated on
the day of the event that caused it.

These functions change a `LoanState` in place. Apart from `from_disbursement`,
only `rules.loan.handlers` calls them: a loan moves through `apply` and
`advance`, which set the cause and the flags around them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from calendar import monthrange
from collections import deque
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from rules.events import LoanDisbursed, Restructure, WriteOff
from rules.features import Features
from rules.loan.state import (
    ACTIVE,
    CLOSED,
    CORE,
    NEVER,
    PAY,
    REVERSED,
    WRITTEN_OFF,
    Entry,
    LoanState,
    Transition,
    core_values,
    event_key,
)
from rules.policy import KLASSES, Policy
from rules.waterfall import Components, fill_components, fill_installments, remaining

__all__ = [
    "EPOCH",
    "MICROSECOND",
    "add_entry",
    "barrier_event",
    "from_disbursement",
    "iso",
    "micros",
    "rerun",
    "restructure",
    "tick_to",
    "write_off",
]

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND: Final = timedelta(microseconds=1)
_LOSS: Final = len(KLASSES) - 1
_LEDGER_MEMORY: Final = 3  # the barrier a fold leaves (`rules.loan.state.BARRIERS`)


def micros(moment: datetime) -> int:
    """Microseconds since the epoch: the ledger's time axis."""
    return (moment - EPOCH) // MICROSECOND


def iso(t: int) -> str:
    """A ledger time (`micros`) as ISO-8601 text, for messages."""
    return (EPOCH + timedelta(microseconds=t)).isoformat()


def _add_months(day: int, months: int) -> int:
    """The same day of the month ``months`` later, clipped to the month's end."""
    start = date.fromordinal(day)
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, monthrange(year, month)[1])).toordinal()


def from_disbursement(event: LoanDisbursed, policy: Policy) -> LoanState:
    """The state of a loan just paid out; its schedule's past cut-offs already judged."""
    day = event.event_time.astimezone(policy.zone).toordinal()
    t = micros(event.event_time)
    lines = event.schedule
    sched: Components = (
        [line.fees for line in lines],
        [line.interest for line in lines],
        [line.principal for line in lines],
    )
    loan = LoanState(
        loan_id=event.loan_id,
        borrower_id=event.borrower_id,
        currency=event.currency,
        principal=event.principal,
        disbursed_on=day,
        features=Features.start(
            disbursed_on=day, principal=event.principal, currency=event.currency
        ),
        _due=[line.due_date.toordinal() for line in lines],
        _sched=sched,
        _sched_principal=sum(sched[2]),
        _latest_t=t,
        _barrier_t=t,
        _seen=deque(maxlen=policy.seen_event_ids),
    )
    loan._cause = event.event_id
    _restore(loan, None, policy)
    loan._cause = None
    loan.remember(event_key(event.event_id))
    return loan


def tick_to(loan: LoanState, day: int, policy: Policy) -> None:
    """Bring the timeline to the start of ``day``, judging every cut-off on the way."""
    if day <= loan.clock_day:
        return
    if day > loan.features.today:
        loan.features.today = day
    if loan.status != ACTIVE:
        loan.clock_day = day
        return
    while True:
        nxt = _next_event_day(loan, policy)
        if nxt > day:
            break
        loan.clock_day = nxt
        _start_of_day(loan, nxt, policy)
    loan.clock_day = day
    _reclassify(loan, day, policy)


def _next_event_day(loan: LoanState, policy: Policy) -> int:
    nc = loan._n_cut
    due = loan._due
    nxt = due[nc] + policy.grace_days + 1 if nc < len(due) else NEVER
    if loan.clock_day < loan._obs_end < nxt:
        nxt = loan._obs_end
    if loan._ptp_until and loan._ptp_until + 1 < nxt:
        nxt = loan._ptp_until + 1
    return max(nxt, loan.clock_day + 1)


def _start_of_day(loan: LoanState, day: int, policy: Policy) -> None:
    """What happens at the start of ``day``: cut-offs pass, promises lapse."""
    last_in_time = day - policy.grace_days - 1
    due, sched, paid = loan._due, loan._sched, loan._paid
    nc, n = loan._n_cut, len(due)
    while nc < n and due[nc] <= last_in_time:
        if remaining(sched, paid, nc) > 0:
            loan._missed_events += 1
            loan.on_time_streak = 0
            loan.last_day_streak = 0
            loan._good_streak = 0
            if not loan._quiet:
                loan.installment_missed = True
        nc += 1
    loan._n_cut = nc
    if loan._ptp_until and loan._ptp_until < day:
        _close_promise(loan, broken=True)
    _reclassify(loan, day, policy)


def _reclassify(loan: LoanState, day: int, policy: Policy) -> None:
    """DPD, bucket and class as of ``day``."""
    fo = loan._first_open
    dpd = day - loan._due[fo] if fo < loan._n_cut else 0
    if dpd != loan.dpd:
        loan.dpd = dpd
        if dpd > loan.max_dpd:
            loan.max_dpd = dpd
        limits = policy.bucket_limits
        index = loan.bucket_index
        if dpd > limits[index] or (index and dpd <= limits[index - 1]):
            _set_bucket(loan, bisect_left(limits, dpd), day, policy)
    if loan.status == WRITTEN_OFF:
        return
    target = bisect_right(policy.klass_starts, dpd)
    if day < loan._obs_end and target < policy.klass_floor:
        target = policy.klass_floor
    current = loan.klass_index
    if target != current and (target > current or loan._good_streak >= policy.upgrade_after):
        _set_klass(loan, target, day)


def _set_bucket(loan: LoanState, index: int, day: int, policy: Policy) -> None:
    old, new = loan.bucket, policy.bucket_labels[index]
    worse = index > loan.bucket_index
    loan.bucket_index, loan.bucket = index, new
    if not loan._quiet:
        loan._transitions.append(
            Transition(loan.loan_id, "bucket", old, new, date.fromordinal(day), loan._cause)
        )
        if worse:
            loan.bucket_worsened = True


def _set_klass(loan: LoanState, index: int, day: int) -> None:
    old = KLASSES[loan.klass_index]
    worse = index > loan.klass_index
    loan.klass_index = index
    if not loan._quiet:
        loan._transitions.append(
            Transition(
                loan.loan_id, "klass", old, KLASSES[index], date.fromordinal(day), loan._cause
            )
        )
        if worse:
            loan.klass_downgraded = True


def _apply_entry(loan: LoanState, entry: Entry, policy: Policy) -> None:
    if entry[2] == PAY:
        if not entry[5] & REVERSED:
            _pay(loan, entry[3], entry[4], policy)
    else:
        _promise(loan, entry[3], entry[4], entry[5], policy)


def _pay(loan: LoanState, day: int, amount: int, policy: Policy) -> None:
    if loan.status == WRITTEN_OFF:
        loan._recovered += amount
        return
    if loan._ptp_until:
        loan._ptp_paid += amount
        if loan._ptp_paid >= loan._ptp_amount:
            _close_promise(loan, broken=False)
    due, sched, paid, settled = loan._due, loan._sched, loan._paid, loan._settled
    n = len(due)
    oldest = loan._first_open
    if oldest >= n:
        loan._credit += amount
        return
    features = loan.features
    features.dbd_sum += due[oldest] - day
    features.dbd_count += 1
    if policy.by_installment:
        left, principal = fill_installments(
            amount, day, oldest, sched, paid, settled, policy.component_order
        )
    else:
        left, principal = fill_components(
            amount, day, oldest, due, sched, paid, settled, policy.component_order
        )
    loan._credit += left
    loan._paid_principal += principal
    features.outstanding = loan._sched_principal - loan._paid_principal
    fees, interest, principals = sched
    paid_fees, paid_interest, paid_principal = paid
    fo = oldest
    while fo < n and (
        fees[fo] == paid_fees[fo]
        and interest[fo] == paid_interest[fo]
        and principals[fo] == paid_principal[fo]
    ):
        _judge(loan, fo, policy)
        fo += 1
    loan._first_open = fo
    if fo == oldest:
        loan.partial_payments += 1
    if fo == n:
        loan.status = CLOSED
    was_late = loan.dpd > 0
    _reclassify(loan, day, policy)
    if was_late and loan.dpd == 0:
        loan.late_cure_count += 1
        if not loan._quiet:
            loan.cured = True


def _judge(loan: LoanState, i: int, policy: Policy) -> None:
    """Streaks, judged as each installment is settled, in schedule order."""
    sched = loan._sched
    if not (sched[0][i] or sched[1][i] or sched[2][i]):
        return  # nothing was owed: neither good nor bad behaviour
    due, paid_on = loan._due[i], loan._settled[i]
    in_time = due + policy.grace_days
    loan.on_time_streak = loan.on_time_streak + 1 if paid_on <= due else 0
    loan.last_day_streak = loan.last_day_streak + 1 if due <= paid_on <= in_time else 0
    if paid_on <= in_time:
        loan._good_streak += 1
        loan.late_cure_streak = 0
    else:
        loan.late_cure_streak += 1


def _promise(loan: LoanState, day: int, amount: int, promised: int, policy: Policy) -> None:
    if loan.status != ACTIVE:
        return
    loan._ptp_until = promised + policy.promise_grace_days
    loan._ptp_amount = amount
    loan._ptp_paid = 0
    if loan._ptp_until < day:  # promised for a day already gone
        _close_promise(loan, broken=True)


def _close_promise(loan: LoanState, *, broken: bool) -> None:
    if broken:
        loan.promises_broken += 1
        if not loan._quiet:
            loan.promise_broken = True
    else:
        loan._promises_kept += 1
    loan._ptp_until = loan._ptp_amount = loan._ptp_paid = 0


def restructure(loan: LoanState, event: Restructure, day: int, policy: Policy) -> None:
    lines = event.schedule
    n = len(lines)
    loan._due = [line.due_date.toordinal() for line in lines]
    loan._sched = (
        [line.fees for line in lines],
        [line.interest for line in lines],
        [line.principal for line in lines],
    )
    loan._paid = ([0] * n, [0] * n, [0] * n)
    loan._settled = [0] * n
    loan._sched_principal = sum(loan._sched[2])
    loan._paid_principal = 0
    loan.features.outstanding = loan._sched_principal
    loan._first_open = _first_unpaid(loan, 0)
    loan._n_cut = 0
    loan.restructured = True
    loan._obs_end = _add_months(day, event.observation_months)
    loan._good_streak = 0
    loan.status = ACTIVE if loan._first_open < n else CLOSED
    _start_of_day(loan, day, policy)


def write_off(loan: LoanState, event: WriteOff, day: int) -> None:
    loan._written_off_amount += event.amount
    loan.status = WRITTEN_OFF
    loan._ptp_until = loan._ptp_amount = loan._ptp_paid = 0
    if loan.klass_index != _LOSS:
        _set_klass(loan, _LOSS, day)


def _first_unpaid(loan: LoanState, start: int) -> int:
    sched, paid, n = loan._sched, loan._paid, len(loan._due)
    while start < n and not remaining(sched, paid, start):
        start += 1
    return start


def _snapshot(loan: LoanState) -> list[Any]:
    paid = loan._paid
    return [
        *core_values(loan),
        paid[0][:],
        paid[1][:],
        paid[2][:],
        loan._settled[:],
        loan.features.dbd_sum,
        loan.features.dbd_count,
    ]


def _restore(loan: LoanState, snapshot: list[Any] | None, policy: Policy) -> None:
    """Put the timeline back to a snapshot; ``None`` is the loan as disbursed."""
    features = loan.features
    if snapshot is not None:
        for name, value in zip(CORE, snapshot, strict=False):
            setattr(loan, name, value)
        rest = snapshot[len(CORE) :]
        loan._paid = (rest[0][:], rest[1][:], rest[2][:])
        loan._settled = rest[3][:]
        features.dbd_sum, features.dbd_count = rest[4], rest[5]
        features.outstanding = loan._sched_principal - loan._paid_principal
        return
    n = len(loan._due)
    for name in CORE:
        setattr(loan, name, 0)
    loan.clock_day = loan.disbursed_on
    loan.bucket = policy.bucket_labels[0]
    loan.status = ACTIVE
    loan.restructured = False
    loan._paid = ([0] * n, [0] * n, [0] * n)
    loan._settled = [0] * n
    features.dbd_sum = features.dbd_count = 0
    features.outstanding = loan._sched_principal
    loan._first_open = _first_unpaid(loan, 0)
    _start_of_day(loan, loan.disbursed_on, policy)


def rerun(
    loan: LoanState,
    policy: Policy,
    on_day: int,
    barrier: tuple[int, int, int, int, Callable[[], None]] | None = None,
) -> None:
    """Re-run the timeline from the base over the ledger; report the net change once.

    With ``barrier`` = (time, hash, day, kind, effect), the effect (a restructure or
    write-off) is applied at its place in event-time order and becomes the
    new base; ledger entries before it are folded away.
    """
    before = (
        loan.bucket_index,
        loan.bucket,
        loan.klass_index,
        loan.dpd,
        loan._missed_events,
        loan.promises_broken,
    )
    clock = loan.clock_day
    ledger = loan._ledger
    loan._quiet = True
    try:
        _restore(loan, loan._base, policy)
        if barrier is not None:
            t, h, day, kind, effect = barrier
            split = bisect_left(ledger, (t, h))
            for entry in ledger[:split]:
                tick_to(loan, entry[3], policy)
                _apply_entry(loan, entry, policy)
            tick_to(loan, day, policy)
            effect()
            _set_base(loan, t, kind)
            del ledger[:split]
        for entry in ledger:
            tick_to(loan, entry[3], policy)
            _apply_entry(loan, entry, policy)
        tick_to(loan, clock, policy)
    finally:
        loan._quiet = False
    bucket_index, bucket, klass_index, dpd, missed, broken = before
    on = date.fromordinal(min(on_day, loan.clock_day))
    if loan.bucket_index != bucket_index:
        loan._transitions.append(
            Transition(loan.loan_id, "bucket", bucket, loan.bucket, on, loan._cause)
        )
        loan.bucket_worsened |= loan.bucket_index > bucket_index
    if loan.klass_index != klass_index:
        loan._transitions.append(
            Transition(loan.loan_id, "klass", KLASSES[klass_index], loan.klass, on, loan._cause)
        )
        loan.klass_downgraded |= loan.klass_index > klass_index
    loan.installment_missed |= loan._missed_events > missed
    loan.cured |= dpd > 0 and loan.dpd == 0
    loan.promise_broken |= loan.promises_broken > broken


def _set_base(loan: LoanState, t: int, barrier: int) -> None:
    loan._base = _snapshot(loan)
    loan._barrier_t = t
    loan._barrier = barrier


def add_entry(loan: LoanState, entry: Entry, policy: Policy) -> bool:
    """Put a timeline entry in its place; return True if that took a re-run."""
    ledger = loan._ledger
    # (time, hash) is unique per entry, so whole entries order as their keys.
    if entry[3] >= loan.clock_day and (not ledger or entry > ledger[-1]):
        ledger.append(entry)
        _apply_entry(loan, entry, policy)
        late = False
    else:
        insort(ledger, entry)
        rerun(loan, policy, entry[3])
        late = True
    if len(ledger) > policy.ledger_size:
        _fold(loan, policy)
    return late


def _fold(loan: LoanState, policy: Policy) -> None:
    """Fold the oldest ledger entries beyond the late window into the base."""
    ledger = loan._ledger
    horizon = loan._latest_t - policy.late_window_us
    want = len(ledger) - policy.ledger_size + policy.ledger_size // 4
    k = 0
    while k < want and ledger[k][0] < horizon:
        k += 1
    if not k:
        return  # everything is still young enough to be re-ordered: keep it
    current = _snapshot(loan)
    loan._quiet = True
    try:
        _restore(loan, loan._base, policy)
        for entry in ledger[:k]:
            tick_to(loan, entry[3], policy)
            _apply_entry(loan, entry, policy)
        _set_base(loan, ledger[k - 1][0], _LEDGER_MEMORY)
    finally:
        loan._quiet = False
    _restore(loan, current, policy)
    del ledger[:k]


def barrier_event(
    loan: LoanState, t: int, h: int, day: int, effect: Callable[[], None], kind: int, policy: Policy
) -> bool:
    """Apply a restructure or write-off and make it the new base."""
    ledger = loan._ledger
    if day >= loan.clock_day and (not ledger or (t, h) > ledger[-1][:2]):
        effect()
        _set_base(loan, t, kind)
        ledger.clear()
        return False
    rerun(loan, policy, day, (t, h, day, kind, effect))
    return True
