"""One loan's state: what the monitor keeps about a loan and what rules read from it.

`LoanState` holds the schedule, what was paid, the timeline's derived figures
(DPD, bucket, class, streaks, promises) and the per-step flags; its properties
are the ``loan.<name>`` names of `rules.vocabulary`. Its methods read, apart
from the per-step bookkeeping (`LoanState.begin_step`, `drain_transitions`,
`remember`); the ledger replay (`rules.loan.ledger`) and the event handlers
(`rules.loan.handlers`) change the timeline, and `rules.loan.codec` turns the
state into bytes and back.

The ledger's entries are kept here as plain tuples, so the state's own layout
(and its bytes) is defined in one place; `rules.loan.ledger` gives them meaning.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from hashlib import blake2b
from operator import attrgetter
from typing import Any, Final, Literal

from rules.features import Features
from rules.policy import KLASSES, Policy
from rules.waterfall import Components, remaining

__all__ = [
    "ACTIVE",
    "BARRIERS",
    "CLOSED",
    "CORE",
    "NEVER",
    "PAY",
    "PROMISE",
    "REVERSED",
    "THIRD_PARTY",
    "WRITTEN_OFF",
    "Applied",
    "Entry",
    "LoanState",
    "Transition",
    "core_values",
    "event_key",
]

ACTIVE: Final = "active"
CLOSED: Final = "closed"
WRITTEN_OFF: Final = "written_off"

# Ledger entries: (event time µs, event id hash, kind, day, amount, aux).
Entry = tuple[int, int, int, int, int, int]
PAY: Final = 1  # aux: flag bits below
PROMISE: Final = 2  # aux: the promised date (ordinal)
THIRD_PARTY: Final = 1
REVERSED: Final = 2

BARRIERS: Final = ("disbursement", "restructure", "write-off", "ledger memory")
"""Barriers by number: history before them is settled and events older than them are refused."""

CORE: Final = (
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
"""What a timeline re-run restores: everything derived from schedule + ledger + clock."""

core_values: Final = attrgetter(*CORE)

NEVER: Final = 10**9
"""An ordinal after every real day: "no such day" in a comparison."""


def event_key(event_id: str) -> int:
    """A stable 64-bit hash of an event id, for dedup memory and the ledger.

    Stable across processes (unlike `hash`), so state written by one worker is
    understood by the next. At 64 bits a collision within one loan's memory is
    about 1 in 10**16.
    """
    return int.from_bytes(blake2b(event_id.encode(), digest_size=8).digest(), signed=True)


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


@dataclass(slots=True)
class LoanState:
    """Everything the monitor keeps about one loan; see `rules.loan`.

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
    # The timeline (see CORE).
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
        best = NEVER
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
        return best if best != NEVER else None

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

    def remember(self, h: int) -> None:
        """Add an event id's hash to the dedup memory, forgetting the oldest when full."""
        seen = self._seen
        if len(seen) == seen.maxlen:
            self._seen_set.discard(seen[0])
        seen.append(h)
        self._seen_set.add(h)
