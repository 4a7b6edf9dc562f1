"""One loan's state: schedule, repayments, days past due, bucket and class.

`LoanState` is what the monitor knows about one loan; `apply` folds one event
into it and `advance` moves its clock to a new day (a missed payment is the
absence of an event, so time itself must be able to change a loan). The state
is a mutable slots dataclass owned by the caller, updated in place: copying a
loan per event would cost more than judging it.

Time
    Days are calendar days in the policy's time zone, kept as ordinals. A due
    date D counts as missed at the start of day D + grace + 1; from then on DPD
    counts from the due date, so on that day DPD is grace + 1 (within grace it
    is 0). Payments made on day D + grace are in time.

The timeline and the ledger
    Everything time-ordered about repayment (repayments, reversals, promises to
    pay) is kept in a bounded ledger of entries sorted by (event time, event id
    hash). In-order entries are applied incrementally; a reversal or a late
    entry instead re-runs the timeline from its base (the state before the
    first entry), so the result is the one in-order arrival would have given:
    the final state is a function of the events, not of their arrival order.
    Restructuring and write-off are barriers: the ledger is folded into the
    base there, and events older than a barrier are refused with a reason (a
    new schedule is authoritative for what was owed before it). When the
    ledger outgrows ``policy.ledger_size``, its oldest entries past the late
    window are folded into the base the same way.

Flags and transitions
    The per-step flags of the vocabulary (``klass_downgraded``,
    ``bucket_worsened``, ``installment_missed``, ``cured``,
    ``promise_broken``) are cleared by `LoanState.begin_step` and set by
    `apply` and `advance`. Every bucket or class change appends a `Transition`
    for the caller to drain. A re-run reports its net effect once, dated on the
    day of the event that caused it.

Money is integer minor units throughout.

Examples
--------
>>> from datetime import date, datetime, timezone, timedelta
>>> from rules.events import LoanDisbursed, RepaymentReceived
>>> from rules.policy import load_policy
>>> policy = load_policy()
>>> cst = timezone(timedelta(hours=8))
>>> envelope = dict(loan_id="L1", borrower_id="b-1", source="core", schema_version=1)
>>> loan = LoanState.from_disbursement(LoanDisbursed(
...     event_id="d1", event_time=datetime(2024, 1, 1, 9, tzinfo=cst), principal=2000,
...     currency="CNY", product="p", disbursed_account="a", interest_rate_bps=1200,
...     schedule=[{"seq": 1, "due_date": "2024-02-01", "principal": 1000, "interest": 20,
...                "fees": 0},
...               {"seq": 2, "due_date": "2024-03-01", "principal": 1000, "interest": 10,
...                "fees": 0}], **envelope), policy)
>>> advance(loan, date(2024, 2, 4), policy)  # due + grace: still current
>>> loan.dpd, loan.bucket
(0, 'M0')
>>> advance(loan, date(2024, 2, 5), policy)  # missed at the start of due + grace + 1
>>> loan.dpd, loan.bucket, loan.klass, loan.installment_missed
(4, 'M1', 'special_mention', True)
>>> apply(loan, RepaymentReceived(
...     event_id="r1", event_time=datetime(2024, 2, 6, 10, tzinfo=cst), amount=1020,
...     kind="full", payer_account="a", payer_is_third_party=False, channel="app",
...     **envelope), policy)
Applied(duplicate=False, rejected=None, late=False)
>>> loan.dpd, loan.bucket, loan.klass, loan.cured
(0, 'M0', 'special_mention', True)
"""

from __future__ import annotations

import base64
import struct
from binascii import b2a_base64
from bisect import bisect_left, bisect_right, insort
from calendar import monthrange
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from hashlib import blake2b
from itertools import chain
from operator import attrgetter
from typing import Any, Final, Literal

import orjson

from rules.events import (
    AccountBalance,
    AccountTransaction,
    BureauReport,
    CollateralValuation,
    CollectionNote,
    ContactChange,
    Event,
    LoanDisbursed,
    RepaymentReceived,
    RepaymentReversed,
    Restructure,
    WriteOff,
)
from rules.exceptions import RulesError
from rules.features import Features
from rules.policy import KLASSES, Policy
from rules.waterfall import Components, fill_components, fill_installments, remaining

__all__ = [
    "FORMAT",
    "Applied",
    "LoanState",
    "LoanStateError",
    "Transition",
    "advance",
    "apply",
    "event_key",
]

FORMAT: Final = 1
"""Version of the `LoanState.to_bytes` layout; `LoanState.from_bytes` refuses others."""

ACTIVE: Final = "active"
CLOSED: Final = "closed"
WRITTEN_OFF: Final = "written_off"
_LOSS: Final = len(KLASSES) - 1

# Ledger entries: (event time µs, event id hash, kind, day, amount, aux).
Entry = tuple[int, int, int, int, int, int]
_PAY: Final = 1  # aux: flag bits below
_PROMISE: Final = 2  # aux: the promised date (ordinal)
_THIRD_PARTY: Final = 1
_REVERSED: Final = 2
_ENTRY_FORMAT: Final = "qqBiqi"
_ENTRY = struct.Struct(">" + _ENTRY_FORMAT)


@lru_cache(maxsize=256)
def _packer(item: str, count: int) -> struct.Struct:
    """Big-endian, unpadded ``item`` repeated ``count`` times: a run packs in one call."""
    return struct.Struct(">" + item * count)


# Barriers: history before them is settled and events older than them are refused.
_BARRIERS: Final = ("disbursement", "restructure", "write-off", "ledger memory")

# What the timeline re-run restores: everything derived from schedule + ledger + clock.
_CORE: Final = (
    "clock_day",
    "dpd",
    "max_dpd",
    "bucket",
    "bucket_index",
    "klass_index",
    "status",
    "restructured",
    "on_time_streak",
    "last_day_streak",
    "late_cure_count",
    "late_cure_streak",
    "partial_payments",
    "promises_broken",
    "_good_streak",
    "_missed_events",
    "_promises_kept",
    "_first_open",
    "_n_cut",
    "_credit",
    "_recovered",
    "_written_off_amount",
    "_obs_end",
    "_ptp_until",
    "_ptp_amount",
    "_ptp_paid",
    "_paid_principal",
)

_CORE_VALUES: Final = attrgetter(*_CORE)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_NEVER: Final = 10**9  # an ordinal after every real day


class LoanStateError(RulesError):
    """Stored loan state could not be read (unknown format or corrupt bytes)."""


def event_key(event_id: str) -> int:
    """A stable 64-bit hash of an event id, for dedup memory and the ledger.

    Stable across processes (unlike `hash`), so state written by one worker is
    understood by the next. At 64 bits a collision within one loan's memory is
    about 1 in 10**16.
    """
    return int.from_bytes(blake2b(event_id.encode(), digest_size=8).digest(), signed=True)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _iso(micros: int) -> str:
    return (_EPOCH + timedelta(microseconds=micros)).isoformat()


def _add_months(day: int, months: int) -> int:
    """The same day of the month ``months`` later, clipped to the month's end."""
    start = date.fromordinal(day)
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, monthrange(year, month)[1])).toordinal()


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of delinquency bucket or five-category class.

    ``from_`` carries the old label (``from`` is a Python keyword); `to_dict`
    gives the wire form with ``from``/``to``. ``event_id`` is the event that
    caused it, ``None`` when time alone did (the clock).

    The loan records the change alone; the step that drained it adds the rest
    (`stamped`): the borrower, the loan's state after the step and the step's
    times, as its warnings carry them, so a reader of the transitions topic can
    place a change among the warnings without a lookup (docs/warnings.md).
    """

    loan_id: str
    kind: Literal["bucket", "klass"]
    from_: str
    to: str
    on: date
    event_id: str | None
    borrower_id: str = ""
    dpd: int | None = None
    bucket: str = ""
    klass: str = ""
    event_time: datetime | None = None
    produced_at: datetime | None = None

    def stamped(self, loan: LoanState, event_time: datetime, produced_at: datetime) -> Transition:
        """This change as its step reports it: ``loan``'s borrower and state after the step.

        >>> t = Transition("L1", "bucket", "M0", "M1", date(2024, 2, 5), None)
        >>> class Loan:  # the few fields read here
        ...     borrower_id, dpd, bucket, klass = "b-1", 4, "M1", "special_mention"
        >>> at = datetime(2024, 2, 5, tzinfo=UTC)
        >>> body = t.stamped(Loan(), at, at).to_dict()
        >>> body["dpd"], body["bucket"], body["event_time"]
        (4, 'M1', '2024-02-05T00:00:00+00:00')
        """
        return replace(
            self,
            borrower_id=loan.borrower_id,
            dpd=loan.dpd,
            bucket=loan.bucket,
            klass=loan.klass,
            event_time=event_time.astimezone(UTC),
            produced_at=produced_at,
        )

    def to_dict(self) -> dict[str, Any]:
        """The wire form of risk.transitions (times as ISO-8601; null until `stamped`)."""
        return {
            "loan_id": self.loan_id,
            "kind": self.kind,
            "from": self.from_,
            "to": self.to,
            "on": self.on.isoformat(),
            "event_id": self.event_id,
            "borrower_id": self.borrower_id,
            "dpd": self.dpd,
            "bucket": self.bucket,
            "klass": self.klass,
            "event_time": None if self.event_time is None else self.event_time.isoformat(),
            "produced_at": None if self.produced_at is None else self.produced_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Applied:
    """What `apply` did with an event.

    ``duplicate``: the event id was seen before; nothing changed.
    ``rejected``: why the event was refused (too late, predates a barrier,
    reverses an unknown payment...); nothing changed.
    ``late``: applied, but out of order, by re-running the timeline.
    """

    duplicate: bool = False
    rejected: str | None = None
    late: bool = False


_APPLIED: Final = Applied()
_APPLIED_LATE: Final = Applied(late=True)
_DUPLICATE: Final = Applied(duplicate=True)


@dataclass(slots=True)
class LoanState:
    """Everything the monitor keeps about one loan; see the module docstring.

    Attributes named in `rules.vocabulary` as ``loan.<name>`` are fields or
    properties here; ``features`` holds the ``features.<name>`` ones.
    """

    loan_id: str
    borrower_id: str
    currency: str
    principal: int
    disbursed_on: int
    features: Features
    _due: list[int]
    _sched: Components
    _paid: Components = field(default_factory=lambda: ([], [], []))
    _settled: list[int] = field(default_factory=list)
    _sched_principal: int = 0
    # The timeline (see _CORE).
    clock_day: int = 0
    dpd: int = 0
    max_dpd: int = 0
    bucket: str = ""
    bucket_index: int = 0
    klass_index: int = 0
    status: str = ACTIVE
    restructured: bool = False
    on_time_streak: int = 0
    last_day_streak: int = 0
    late_cure_count: int = 0
    late_cure_streak: int = 0
    partial_payments: int = 0
    promises_broken: int = 0
    _good_streak: int = 0
    _missed_events: int = 0
    _promises_kept: int = 0
    _first_open: int = 0
    _n_cut: int = 0
    _credit: int = 0
    _recovered: int = 0
    _written_off_amount: int = 0
    _obs_end: int = 0
    _ptp_until: int = 0
    _ptp_amount: int = 0
    _ptp_paid: int = 0
    _paid_principal: int = 0
    # Outside the timeline.
    third_party_repayments: int = 0
    _latest_t: int = 0
    _barrier_t: int = 0
    _barrier: int = 0
    _seen: deque[int] = field(default_factory=deque)
    _ledger: list[Entry] = field(default_factory=list)
    _base: list[Any] | None = None
    # This step.
    klass_downgraded: bool = False
    bucket_worsened: bool = False
    installment_missed: bool = False
    cured: bool = False
    promise_broken: bool = False
    _transitions: list[Transition] = field(default_factory=list)
    _seen_set: set[int] = field(default_factory=set, compare=False)
    _cause: str | None = field(default=None, compare=False)
    _quiet: bool = field(default=False, compare=False)

    # ------------------------------------------------------------------ creation

    @classmethod
    def from_disbursement(cls, event: LoanDisbursed, policy: Policy) -> LoanState:
        """The state of a loan just paid out; its schedule's past cut-offs already judged."""
        day = event.event_time.astimezone(policy.zone).toordinal()
        t = _micros(event.event_time)
        lines = event.schedule
        sched: Components = (
            [line.fees for line in lines],
            [line.interest for line in lines],
            [line.principal for line in lines],
        )
        state = cls(
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
        state._cause = event.event_id
        state._restore(None, policy)
        state._cause = None
        state._remember(event_key(event.event_id))
        return state

    # ------------------------------------------------------------------ the step

    def begin_step(self) -> None:
        """Clear the per-step flags before an event or a tick is applied."""
        self.klass_downgraded = False
        self.bucket_worsened = False
        self.installment_missed = False
        self.cured = False
        self.promise_broken = False

    def drain_transitions(self) -> list[Transition]:
        """Hand over the transitions recorded since the last drain."""
        out = self._transitions
        self._transitions = []
        return out

    # ------------------------------------------------------------------ vocabulary

    @property
    def klass(self) -> str:
        return KLASSES[self.klass_index]

    @property
    def in_observation(self) -> bool:
        return self.clock_day < self._obs_end

    @property
    def written_off(self) -> bool:
        return self.status == WRITTEN_OFF

    @property
    def outstanding_principal(self) -> int:
        return self._sched_principal - self._paid_principal

    @property
    def overdue_principal(self) -> int:
        return self._overdue(2)

    @property
    def overdue_interest(self) -> int:
        return self._overdue(1)

    @property
    def overdue_total(self) -> int:
        return self._overdue(0) + self._overdue(1) + self._overdue(2)

    @property
    def missed_installments(self) -> int:
        (fees, interest, principal), (paid_fees, paid_interest, paid_principal) = (
            self._sched,
            self._paid,
        )
        return sum(
            1
            for i in range(self._first_open, self._n_cut)
            if fees[i] - paid_fees[i] + interest[i] - paid_interest[i] + principal[i]
            > paid_principal[i]
        )

    @property
    def first_unpaid_installment(self) -> int:
        """1-based number of the oldest installment not fully paid; 0 when none is.

        Counts in the current schedule: a restructuring starts a new one. A loan
        30 days past due with this at 1 never paid its first installment, the
        first-payment-default pattern that points at fraud more than hardship.
        """
        return self._first_open + 1 if self._first_open < len(self._due) else 0

    @property
    def days_since_disbursement(self) -> int:
        return self.clock_day - self.disbursed_on

    @property
    def next_due_date(self) -> date | None:
        """Due date of the first unpaid installment due today or later."""
        due, sched, paid, today = self._due, self._sched, self._paid, self.clock_day
        for i in range(max(self._first_open, bisect_left(due, today)), len(due)):
            if remaining(sched, paid, i) > 0:
                return date.fromordinal(due[i])
        return None

    @property
    def days_to_next_due(self) -> int | None:
        next_due = self.next_due_date
        return None if next_due is None else next_due.toordinal() - self.clock_day

    @property
    def promise_open(self) -> bool:
        return self._ptp_until != 0

    # ------------------------------------------------------------------ other views

    @property
    def today(self) -> date:
        """The loan's clock: the latest day it has been brought up to."""
        return date.fromordinal(self.clock_day)

    @property
    def credit(self) -> int:
        """Paid beyond the whole schedule: owed back to the borrower."""
        return self._credit

    @property
    def recovered(self) -> int:
        """Repaid after the write-off."""
        return self._recovered

    @property
    def written_off_amount(self) -> int:
        return self._written_off_amount

    @property
    def promises_kept(self) -> int:
        return self._promises_kept

    @property
    def observation_end(self) -> date | None:
        """First day after the restructuring's observation period, if any."""
        return date.fromordinal(self._obs_end) if self._obs_end else None

    @property
    def promise_deadline(self) -> date | None:
        """Last day an open promise to pay can still be kept."""
        return date.fromordinal(self._ptp_until) if self._ptp_until else None

    def next_change_day(self, policy: Policy, dpd_marks: tuple[int, ...] = ()) -> int | None:
        """Ordinal of the next day time alone can change this loan; see `rules.clock`."""
        if self.status != ACTIVE:
            return None
        today = self.clock_day
        due, sched, paid = self._due, self._sched, self._paid
        best = _NEVER
        for i in range(max(self._n_cut, self._first_open), len(due)):
            if remaining(sched, paid, i) > 0:
                best = due[i] + policy.grace_days + 1
                break
        if today < self._obs_end < best:
            best = self._obs_end
        if self._ptp_until and self._ptp_until + 1 < best:
            best = self._ptp_until + 1
        dpd = self.dpd
        if dpd > 0:
            oldest = due[self._first_open]
            limits = policy.bucket_limits
            if self.bucket_index + 1 < len(limits):
                best = min(best, oldest + limits[self.bucket_index] + 1)
            for marks in (policy.klass_starts, policy.wake_at_dpd, dpd_marks):
                for mark in marks:
                    if dpd < mark:
                        best = min(best, oldest + mark)
                        break  # marks are sorted: the first above DPD is the nearest
        return best if best != _NEVER else None

    def components(self) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """((scheduled fees, interest, principal), (paid fees, interest, principal))."""
        sched, paid = self._sched, self._paid
        return (
            (sum(sched[0]), sum(sched[1]), sum(sched[2])),
            (sum(paid[0]), sum(paid[1]), sum(paid[2])),
        )

    def _overdue(self, component: int) -> int:
        start, stop = self._first_open, self._n_cut
        if start >= stop:
            return 0
        return sum(self._sched[component][start:stop]) - sum(self._paid[component][start:stop])

    # ------------------------------------------------------------------ the clock

    def _tick_to(self, day: int, policy: Policy) -> None:
        """Bring the timeline to the start of ``day``, judging every cut-off on the way."""
        if day <= self.clock_day:
            return
        if day > self.features.today:
            self.features.today = day
        if self.status != ACTIVE:
            self.clock_day = day
            return
        while True:
            nxt = self._next_event_day(policy)
            if nxt > day:
                break
            self.clock_day = nxt
            self._start_of_day(nxt, policy)
        self.clock_day = day
        self._reclassify(day, policy)

    def _next_event_day(self, policy: Policy) -> int:
        nc = self._n_cut
        due = self._due
        nxt = due[nc] + policy.grace_days + 1 if nc < len(due) else _NEVER
        if self.clock_day < self._obs_end < nxt:
            nxt = self._obs_end
        if self._ptp_until and self._ptp_until + 1 < nxt:
            nxt = self._ptp_until + 1
        return max(nxt, self.clock_day + 1)

    def _start_of_day(self, day: int, policy: Policy) -> None:
        """What happens at the start of ``day``: cut-offs pass, promises lapse."""
        last_in_time = day - policy.grace_days - 1
        due, sched, paid = self._due, self._sched, self._paid
        nc, n = self._n_cut, len(due)
        while nc < n and due[nc] <= last_in_time:
            if remaining(sched, paid, nc) > 0:
                self._missed_events += 1
                self.on_time_streak = 0
                self.last_day_streak = 0
                self._good_streak = 0
                if not self._quiet:
                    self.installment_missed = True
            nc += 1
        self._n_cut = nc
        if self._ptp_until and self._ptp_until < day:
            self._close_promise(broken=True)
        self._reclassify(day, policy)

    def _reclassify(self, day: int, policy: Policy) -> None:
        """DPD, bucket and class as of ``day``."""
        fo = self._first_open
        dpd = day - self._due[fo] if fo < self._n_cut else 0
        if dpd != self.dpd:
            self.dpd = dpd
            if dpd > self.max_dpd:
                self.max_dpd = dpd
            limits = policy.bucket_limits
            index = self.bucket_index
            if dpd > limits[index] or (index and dpd <= limits[index - 1]):
                self._set_bucket(bisect_left(limits, dpd), day, policy)
        if self.status == WRITTEN_OFF:
            return
        target = bisect_right(policy.klass_starts, dpd)
        if day < self._obs_end and target < policy.klass_floor:
            target = policy.klass_floor
        current = self.klass_index
        if target != current and (target > current or self._good_streak >= policy.upgrade_after):
            self._set_klass(target, day)

    def _set_bucket(self, index: int, day: int, policy: Policy) -> None:
        old, new = self.bucket, policy.bucket_labels[index]
        worse = index > self.bucket_index
        self.bucket_index, self.bucket = index, new
        if not self._quiet:
            self._transitions.append(
                Transition(self.loan_id, "bucket", old, new, date.fromordinal(day), self._cause)
            )
            if worse:
                self.bucket_worsened = True

    def _set_klass(self, index: int, day: int) -> None:
        old = KLASSES[self.klass_index]
        worse = index > self.klass_index
        self.klass_index = index
        if not self._quiet:
            self._transitions.append(
                Transition(
                    self.loan_id, "klass", old, KLASSES[index], date.fromordinal(day), self._cause
                )
            )
            if worse:
                self.klass_downgraded = True

    # ------------------------------------------------------------------ timeline entries

    def _apply_entry(self, entry: Entry, policy: Policy) -> None:
        if entry[2] == _PAY:
            if not entry[5] & _REVERSED:
                self._pay(entry[3], entry[4], policy)
        else:
            self._promise(entry[3], entry[4], entry[5], policy)

    def _pay(self, day: int, amount: int, policy: Policy) -> None:
        if self.status == WRITTEN_OFF:
            self._recovered += amount
            return
        if self._ptp_until:
            self._ptp_paid += amount
            if self._ptp_paid >= self._ptp_amount:
                self._close_promise(broken=False)
        due, sched, paid, settled = self._due, self._sched, self._paid, self._settled
        n = len(due)
        oldest = self._first_open
        if oldest >= n:
            self._credit += amount
            return
        features = self.features
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
        self._credit += left
        self._paid_principal += principal
        features.outstanding = self._sched_principal - self._paid_principal
        fees, interest, principals = sched
        paid_fees, paid_interest, paid_principal = paid
        fo = oldest
        while fo < n and (
            fees[fo] == paid_fees[fo]
            and interest[fo] == paid_interest[fo]
            and principals[fo] == paid_principal[fo]
        ):
            self._judge(fo, policy)
            fo += 1
        self._first_open = fo
        if fo == oldest:
            self.partial_payments += 1
        if fo == n:
            self.status = CLOSED
        was_late = self.dpd > 0
        self._reclassify(day, policy)
        if was_late and self.dpd == 0:
            self.late_cure_count += 1
            if not self._quiet:
                self.cured = True

    def _judge(self, i: int, policy: Policy) -> None:
        """Streaks, judged as each installment is settled, in schedule order."""
        sched = self._sched
        if not (sched[0][i] or sched[1][i] or sched[2][i]):
            return  # nothing was owed: neither good nor bad behaviour
        due, paid_on = self._due[i], self._settled[i]
        in_time = due + policy.grace_days
        self.on_time_streak = self.on_time_streak + 1 if paid_on <= due else 0
        self.last_day_streak = self.last_day_streak + 1 if due <= paid_on <= in_time else 0
        if paid_on <= in_time:
            self._good_streak += 1
            self.late_cure_streak = 0
        else:
            self.late_cure_streak += 1

    def _promise(self, day: int, amount: int, promised: int, policy: Policy) -> None:
        if self.status != ACTIVE:
            return
        self._ptp_until = promised + policy.promise_grace_days
        self._ptp_amount = amount
        self._ptp_paid = 0
        if self._ptp_until < day:  # promised for a day already gone
            self._close_promise(broken=True)

    def _close_promise(self, *, broken: bool) -> None:
        if broken:
            self.promises_broken += 1
            if not self._quiet:
                self.promise_broken = True
        else:
            self._promises_kept += 1
        self._ptp_until = self._ptp_amount = self._ptp_paid = 0

    def _restructure(self, event: Restructure, day: int, policy: Policy) -> None:
        lines = event.schedule
        n = len(lines)
        self._due = [line.due_date.toordinal() for line in lines]
        self._sched = (
            [line.fees for line in lines],
            [line.interest for line in lines],
            [line.principal for line in lines],
        )
        self._paid = ([0] * n, [0] * n, [0] * n)
        self._settled = [0] * n
        self._sched_principal = sum(self._sched[2])
        self._paid_principal = 0
        self.features.outstanding = self._sched_principal
        self._first_open = self._first_unpaid(0)
        self._n_cut = 0
        self.restructured = True
        self._obs_end = _add_months(day, event.observation_months)
        self._good_streak = 0
        self.status = ACTIVE if self._first_open < n else CLOSED
        self._start_of_day(day, policy)

    def _write_off(self, event: WriteOff, day: int) -> None:
        self._written_off_amount += event.amount
        self.status = WRITTEN_OFF
        self._ptp_until = self._ptp_amount = self._ptp_paid = 0
        if self.klass_index != _LOSS:
            self._set_klass(_LOSS, day)

    def _first_unpaid(self, start: int) -> int:
        sched, paid, n = self._sched, self._paid, len(self._due)
        while start < n and not remaining(sched, paid, start):
            start += 1
        return start

    # ------------------------------------------------------------------ re-running

    def _snapshot(self) -> list[Any]:
        paid = self._paid
        return [
            *_CORE_VALUES(self),
            paid[0][:],
            paid[1][:],
            paid[2][:],
            self._settled[:],
            self.features.dbd_sum,
            self.features.dbd_count,
        ]

    def _restore(self, snapshot: list[Any] | None, policy: Policy) -> None:
        """Put the timeline back to a snapshot; ``None`` is the loan as disbursed."""
        features = self.features
        if snapshot is not None:
            for name, value in zip(_CORE, snapshot, strict=False):
                setattr(self, name, value)
            rest = snapshot[len(_CORE) :]
            self._paid = (rest[0][:], rest[1][:], rest[2][:])
            self._settled = rest[3][:]
            features.dbd_sum, features.dbd_count = rest[4], rest[5]
            features.outstanding = self._sched_principal - self._paid_principal
            return
        n = len(self._due)
        for name in _CORE:
            setattr(self, name, 0)
        self.clock_day = self.disbursed_on
        self.bucket = policy.bucket_labels[0]
        self.status = ACTIVE
        self.restructured = False
        self._paid = ([0] * n, [0] * n, [0] * n)
        self._settled = [0] * n
        features.dbd_sum = features.dbd_count = 0
        features.outstanding = self._sched_principal
        self._first_open = self._first_unpaid(0)
        self._start_of_day(self.disbursed_on, policy)

    def _rerun(
        self,
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
            self.bucket_index,
            self.bucket,
            self.klass_index,
            self.dpd,
            self._missed_events,
            self.promises_broken,
        )
        clock = self.clock_day
        ledger = self._ledger
        self._quiet = True
        try:
            self._restore(self._base, policy)
            if barrier is not None:
                t, h, day, kind, effect = barrier
                split = bisect_left(ledger, (t, h))
                for entry in ledger[:split]:
                    self._tick_to(entry[3], policy)
                    self._apply_entry(entry, policy)
                self._tick_to(day, policy)
                effect()
                self._set_base(t, kind)
                del ledger[:split]
            for entry in ledger:
                self._tick_to(entry[3], policy)
                self._apply_entry(entry, policy)
            self._tick_to(clock, policy)
        finally:
            self._quiet = False
        bucket_index, bucket, klass_index, dpd, missed, broken = before
        on = date.fromordinal(min(on_day, self.clock_day))
        if self.bucket_index != bucket_index:
            self._transitions.append(
                Transition(self.loan_id, "bucket", bucket, self.bucket, on, self._cause)
            )
            self.bucket_worsened |= self.bucket_index > bucket_index
        if self.klass_index != klass_index:
            self._transitions.append(
                Transition(self.loan_id, "klass", KLASSES[klass_index], self.klass, on, self._cause)
            )
            self.klass_downgraded |= self.klass_index > klass_index
        self.installment_missed |= self._missed_events > missed
        self.cured |= dpd > 0 and self.dpd == 0
        self.promise_broken |= self.promises_broken > broken

    def _set_base(self, t: int, barrier: int) -> None:
        self._base = self._snapshot()
        self._barrier_t = t
        self._barrier = barrier

    def _add_entry(self, entry: Entry, policy: Policy) -> bool:
        """Put a timeline entry in its place; return True if that took a re-run."""
        ledger = self._ledger
        # (time, hash) is unique per entry, so whole entries order as their keys.
        if entry[3] >= self.clock_day and (not ledger or entry > ledger[-1]):
            ledger.append(entry)
            self._apply_entry(entry, policy)
            late = False
        else:
            insort(ledger, entry)
            self._rerun(policy, entry[3])
            late = True
        if len(ledger) > policy.ledger_size:
            self._fold(policy)
        return late

    def _fold(self, policy: Policy) -> None:
        """Fold the oldest ledger entries beyond the late window into the base."""
        ledger = self._ledger
        horizon = self._latest_t - policy.late_window_us
        want = len(ledger) - policy.ledger_size + policy.ledger_size // 4
        k = 0
        while k < want and ledger[k][0] < horizon:
            k += 1
        if not k:
            return  # everything is still young enough to be re-ordered: keep it
        current = self._snapshot()
        self._quiet = True
        try:
            self._restore(self._base, policy)
            for entry in ledger[:k]:
                self._tick_to(entry[3], policy)
                self._apply_entry(entry, policy)
            self._set_base(ledger[k - 1][0], 3)
        finally:
            self._quiet = False
        self._restore(current, policy)
        del ledger[:k]

    def _barrier_event(
        self, t: int, h: int, day: int, effect: Callable[[], None], kind: int, policy: Policy
    ) -> bool:
        """Apply a restructure or write-off and make it the new base."""
        ledger = self._ledger
        if day >= self.clock_day and (not ledger or (t, h) > ledger[-1][:2]):
            effect()
            self._set_base(t, kind)
            ledger.clear()
            return False
        self._rerun(policy, day, (t, h, day, kind, effect))
        return True

    def _remember(self, h: int) -> None:
        seen = self._seen
        if len(seen) == seen.maxlen:
            self._seen_set.discard(seen[0])
        seen.append(h)
        self._seen_set.add(h)

    # ------------------------------------------------------------------ bytes

    def to_bytes(self) -> bytes:
        """The state as compact JSON (orjson), starting with the format version.

        Lists of integers go out as they are (orjson writes them in C); the dedup
        memory and the ledger are packed binary (base64), since their 64-bit
        hashes would take three times the room as decimal text.
        """
        seen = self._seen
        ledger = _packer(_ENTRY_FORMAT, len(self._ledger)).pack(*chain.from_iterable(self._ledger))
        flags = (
            self.klass_downgraded
            | self.bucket_worsened << 1
            | self.installment_missed << 2
            | self.cured << 3
            | self.promise_broken << 4
        )
        return orjson.dumps(
            [
                FORMAT,
                self.loan_id,
                self.borrower_id,
                self.currency,
                self.principal,
                self.disbursed_on,
                self._due,
                *self._sched,
                [*_CORE_VALUES(self), *self._paid, self._settled],
                self._base,
                self.third_party_repayments,
                self._latest_t,
                self._barrier_t,
                self._barrier,
                seen.maxlen,
                b2a_base64(_packer("q", len(seen)).pack(*seen), newline=False).decode(),
                b2a_base64(ledger, newline=False).decode(),
                flags,
                [[t.kind, t.from_, t.to, t.on.toordinal(), t.event_id] for t in self._transitions],
                self.features.to_obj(),
            ]
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> LoanState:
        """Read what `to_bytes` wrote; raises `LoanStateError` for another format."""
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise LoanStateError(f"loan state is not valid JSON: {exc}") from None
        if not isinstance(obj, list) or not obj or obj[0] != FORMAT:
            found = obj[0] if isinstance(obj, list) and obj else type(obj).__name__
            raise LoanStateError(f"unknown loan state format {found!r} (expected {FORMAT})")
        try:
            return cls._from_obj(obj)
        except (ValueError, TypeError, IndexError, KeyError, struct.error) as exc:
            raise LoanStateError(f"corrupt loan state: {exc}") from None

    @classmethod
    def _from_obj(cls, obj: list[Any]) -> LoanState:
        (
            _,
            loan_id,
            borrower_id,
            currency,
            principal,
            disbursed_on,
            due,
            fees,
            interest,
            principals,
            core,
            base,
            third_party,
            latest_t,
            barrier_t,
            barrier,
            seen_max,
            seen_b64,
            ledger_b64,
            flags,
            transitions,
            features,
        ) = obj
        seen_raw = base64.b64decode(seen_b64)
        ledger_raw = base64.b64decode(ledger_b64)
        seen: deque[int] = deque(
            struct.unpack(f">{len(seen_raw) // 8}q", seen_raw), maxlen=seen_max
        )
        size = len(_CORE)
        # Positional, in field order: binding ~50 keywords would cost more than the rest.
        args: list[Any] = [
            loan_id,
            borrower_id,
            currency,
            principal,
            disbursed_on,
            Features.from_obj(features),
            due,
            (fees, interest, principals),
            (core[size], core[size + 1], core[size + 2]),
            core[size + 3],
            sum(principals),
            *core[:size],
            third_party,
            latest_t,
            barrier_t,
            barrier,
            seen,
            list(_ENTRY.iter_unpack(ledger_raw)),
            base,
            bool(flags & 1),
            bool(flags & 2),
            bool(flags & 4),
            bool(flags & 8),
            bool(flags & 16),
            [
                Transition(loan_id, kind, old, new, date.fromordinal(on), event_id)
                for kind, old, new, on, event_id in transitions
            ],
            set(seen),
        ]
        return cls(*args)


# ---------------------------------------------------------------------- apply / advance


def advance(state: LoanState, today: date, policy: Policy) -> None:
    """Bring the loan's clock to the start of ``today``.

    Judges every cut-off, lapsed promise and end of observation on the way, so
    a jump of many days gives the same state as daily ticks. Idempotent for the
    same day; never moves backwards.
    """
    day = today.toordinal()
    if day > state.clock_day:
        state._cause = None
        state._tick_to(day, policy)


def apply(state: LoanState, event: Event, policy: Policy) -> Applied:
    """Fold one event into the loan's state.

    A duplicate event id (remembered among the last ``policy.seen_event_ids``,
    or a repayment or promise still in the ledger) changes nothing. An event
    older than the loan's latest event or clock by more than the late window,
    or older than a barrier (disbursement, restructure, write-off), is refused
    with a reason and changes nothing. The clock is first brought to the
    event's day, so time passing is judged before the event itself.
    """
    h = event_key(event.event_id)
    if h in state._seen_set:
        return _DUPLICATE
    moment = event.event_time
    t = (moment - _EPOCH) // _MICROSECOND
    day = moment.astimezone(policy.zone).toordinal()
    late = t < state._latest_t or day < state.clock_day
    if late:
        # A redelivery the id memory has forgotten is late by nature; the ledger
        # still knows its repayments and promises.
        for entry in state._ledger:
            if entry[1] == h:
                return _DUPLICATE
        reason = _too_late(state, event, t, policy)
        if reason is not None:
            return Applied(rejected=reason)
    refuse, handler = _DISPATCH[event.type]
    if refuse is not None:
        reason = refuse(state, event, t)
        if reason is not None:
            return Applied(rejected=reason)
    if day > state.clock_day:
        state._cause = None
        state._tick_to(day, policy)
    state._cause = event.event_id
    try:
        late |= handler(state, event, policy, t, h, day)
    finally:
        state._cause = None
    state._remember(h)
    if t > state._latest_t:
        state._latest_t = t
    return _APPLIED_LATE if late else _APPLIED


def _too_late(state: LoanState, event: Event, t: int, policy: Policy) -> str | None:
    start = datetime.combine(state.today, time(0), tzinfo=policy.zone)
    reference = max(state._latest_t, _micros(start))
    if reference - t <= policy.late_window_us:
        return None
    days, rest = divmod(reference - t, 86_400_000_000)
    hours = rest // 3_600_000_000
    return (
        f"{event.type} at {event.event_time.isoformat()} is {days} days {hours} hours behind "
        f"the loan (latest {_iso(reference)}); only events up to "
        f"{policy.late_event_window_days} days late are applied"
    )


# Refusals: checks that need the state, per event type (None: nothing to check).


def _before_barrier(state: LoanState, event: Event, t: int) -> str | None:
    if t > state._barrier_t:
        return None
    return (
        f"{event.type} at {event.event_time.isoformat()} predates the loan's "
        f"{_BARRIERS[state._barrier]} at {_iso(state._barrier_t)}; history before it "
        "is settled"
    )


def _refuse_disbursement(state: LoanState, event: Event, t: int) -> str | None:
    return f"loan {state.loan_id} is already disbursed; a second loan_disbursed is refused"


def _refuse_reversal(state: LoanState, event: RepaymentReversed, t: int) -> str | None:
    target = event_key(event.reversed_event_id)
    for entry in state._ledger:
        if entry[1] == target and entry[2] == _PAY:
            if entry[5] & _REVERSED:
                return f"repayment {event.reversed_event_id} is already reversed"
            return None
    return (
        f"repayment {event.reversed_event_id} is not in the loan's ledger (unknown, "
        f"or older than its {_BARRIERS[state._barrier]})"
    )


def _refuse_note(state: LoanState, event: CollectionNote, t: int) -> str | None:
    return None if event.promise_to_pay is None else _before_barrier(state, event, t)


def _refuse_collateral(state: LoanState, event: CollateralValuation, t: int) -> str | None:
    if event.currency == state.currency:
        return None
    return (
        f"collateral valued in {event.currency} but the loan is in {state.currency}; "
        "no currency conversion is done"
    )


def _refuse_ending(state: LoanState, event: Restructure | WriteOff, t: int) -> str | None:
    if state.status == WRITTEN_OFF:
        return f"loan {state.loan_id} is already written off"
    return _before_barrier(state, event, t)


_Handler = Callable[[LoanState, Any, Policy, int, int, int], bool]


def _on_repayment(
    state: LoanState, event: RepaymentReceived, policy: Policy, t: int, h: int, day: int
) -> bool:
    flags = 0
    if event.payer_is_third_party:
        state.third_party_repayments += 1
        flags = _THIRD_PARTY
    return state._add_entry((t, h, _PAY, day, event.amount, flags), policy)


def _on_reversal(
    state: LoanState, event: RepaymentReversed, policy: Policy, t: int, h: int, day: int
) -> bool:
    target = event_key(event.reversed_event_id)
    ledger = state._ledger
    for i, entry in enumerate(ledger):
        if entry[1] == target and entry[2] == _PAY:
            ledger[i] = (*entry[:5], entry[5] | _REVERSED)
            break
    state._rerun(policy, day)
    return False


def _on_note(
    state: LoanState, event: CollectionNote, policy: Policy, t: int, h: int, day: int
) -> bool:
    promise = event.promise_to_pay
    if promise is None:
        return False
    entry = (t, h, _PROMISE, day, promise.amount, promise.date.toordinal())
    return state._add_entry(entry, policy)


def _on_restructure(
    state: LoanState, event: Restructure, policy: Policy, t: int, h: int, day: int
) -> bool:
    return state._barrier_event(
        t, h, day, lambda: state._restructure(event, day, policy), 1, policy
    )


def _on_write_off(
    state: LoanState, event: WriteOff, policy: Policy, t: int, h: int, day: int
) -> bool:
    return state._barrier_event(t, h, day, lambda: state._write_off(event, day), 2, policy)


def _on_transaction(
    state: LoanState, event: AccountTransaction, policy: Policy, t: int, h: int, day: int
) -> bool:
    state.features.on_transaction(
        day,
        t,
        h,
        event.direction,
        event.amount,
        event.counterparty_category,
        event.currency,
        event.account,
        event.balance_after,
        policy.feature_params,
    )
    return False


def _on_balance(
    state: LoanState, event: AccountBalance, policy: Policy, t: int, h: int, day: int
) -> bool:
    state.features.on_balance(day, t, h, event.account, event.balance, event.currency)
    return False


def _on_bureau(
    state: LoanState, event: BureauReport, policy: Policy, t: int, h: int, day: int
) -> bool:
    state.features.on_bureau(
        t,
        h,
        event.new_delinquencies,
        event.inquiries,
        event.has_lawsuit,
        event.has_enforcement,
    )
    return False


def _on_contact(
    state: LoanState, event: ContactChange, policy: Policy, t: int, h: int, day: int
) -> bool:
    state.features.on_contact_change(day)
    return False


def _on_collateral(
    state: LoanState, event: CollateralValuation, policy: Policy, t: int, h: int, day: int
) -> bool:
    state.features.on_collateral(t, h, event.collateral_id, event.value)
    return False


def _day_only(state: LoanState, event: Any, policy: Policy, t: int, h: int, day: int) -> bool:
    """Moving the loan to the event's day was all: installment_due (the clock's own
    event), loan_disbursed (always refused on an existing loan), and note_labelled (it teaches
    the worker's text model; the loan keeps only its day and its id, for deduplication)."""
    return False


_Refusal = Callable[[LoanState, Any, int], str | None]

_DISPATCH: Final[dict[str, tuple[_Refusal | None, _Handler]]] = {
    "loan_disbursed": (_refuse_disbursement, _day_only),
    "installment_due": (None, _day_only),
    "repayment_received": (_before_barrier, _on_repayment),
    "repayment_reversed": (_refuse_reversal, _on_reversal),
    "account_transaction": (None, _on_transaction),
    "account_balance": (None, _on_balance),
    "bureau_report": (None, _on_bureau),
    "contact_change": (None, _on_contact),
    "collateral_valuation": (_refuse_collateral, _on_collateral),
    "collection_note": (_refuse_note, _on_note),
    "note_labelled": (None, _day_only),
    "restructure": (_refuse_ending, _on_restructure),
    "write_off": (_refuse_ending, _on_write_off),
}
"""Per event type: its refusal check (or None) and its handler (True: applied late)."""
