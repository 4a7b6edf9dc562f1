"""Ground truth: what each simulated loan really did, as a monitor should see it.

The labels are computed from the events the simulator actually emits, replayed
in order through a small payment ledger, not from the behaviour it *intended*:
an intended default that falls after the simulated period, or a promise kept
by a day, is labelled as the stream shows it. So a detector is scored against
what it could have known.

DPD follows the domain definition: days since the due date of the oldest
installment not fully paid, counted in the loan's local calendar days. An
installment settled on day ``p`` reached ``p - due`` days past due; one still
unpaid reached ``last_day - due``, where ``last_day`` is the last local day of
the simulated period. Repayments are applied oldest installment first and a
reversed repayment stops counting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from streams.simulate.profiles import Profile, Signal
from streams.simulate.timeline import day_to_date

__all__ = [
    "INQUIRY_SURGE_MIN",
    "NEAR_MISS_DAYS",
    "LoanLabel",
    "TruthLedger",
]

INQUIRY_SURGE_MIN: Final = 6
"""Credit inquiries in a 30-day bureau window at or above which a surge is labelled."""
NEAR_MISS_DAYS: Final = 30
"""A contact change this many days or fewer from a missed due date is a near miss."""
_DPD_SIGNALS: Final = ((1, Signal.DPD_1), (30, Signal.DPD_30), (60, Signal.DPD_60))
_BAD_DPD: Final = 90
_SIGNAL_ORDER: Final = {signal: i for i, signal in enumerate(Signal)}


@dataclass(frozen=True, slots=True)
class LoanLabel:
    """The truth about one loan, written as one JSON line beside the run."""

    loan_id: str
    borrower_id: str
    profile: Profile
    product: str
    expected_signals: tuple[Signal, ...]
    """In `Signal` order; each one shown by the stream inside the simulated period."""
    signals_first_seen: dict[Signal, str]
    """ISO date on which each signal first became visible in the stream."""
    defaulted: bool
    """DPD reached 90 or the loan was written off inside the period."""
    first_bad_date: str | None
    max_dpd: int
    events: int

    def to_json(self) -> dict[str, Any]:
        """A plain dict for orjson, keys in a stable order."""
        return {
            "loan_id": self.loan_id,
            "borrower_id": self.borrower_id,
            "profile": self.profile.value,
            "product": self.product,
            "expected_signals": [s.value for s in self.expected_signals],
            "signals_first_seen": {s.value: d for s, d in self.signals_first_seen.items()},
            "defaulted": self.defaulted,
            "first_bad_date": self.first_bad_date,
            "max_dpd": self.max_dpd,
            "events": self.events,
        }


class _Line:
    __slots__ = ("cum_due", "due_day", "original_first", "settled_day")

    def __init__(self, due_day: int, cum_due: int, original_first: bool) -> None:
        self.due_day = due_day
        self.cum_due = cum_due
        self.original_first = original_first
        self.settled_day: int | None = None


class TruthLedger:
    """Replays one loan's emitted events and derives its `LoanLabel`.

    Fed in event-time order with plain values (days, amounts), so it stays
    cheap enough to run on every event of a million-event book.
    """

    def __init__(self) -> None:
        self._lines: list[_Line] = []
        self._closed: list[_Line] = []
        self._paid = 0
        self._next = 0
        self._payments: dict[str, int] = {}
        self._promises: list[tuple[int, int, int]] = []
        self._contacts: list[int] = []
        self._seen: dict[Signal, int] = {}
        self._write_off_day: int | None = None
        self.events = 0

    # -- feeding -------------------------------------------------------------

    def signal(self, signal: Signal, day: int) -> None:
        if signal not in self._seen:
            self._seen[signal] = day

    def schedule(self, due_days: list[int], amounts: list[int], day: int, *, first: bool) -> None:
        """A new schedule (disbursement, or a restructure that forgives older arrears)."""
        self._close_schedule(day)
        cum = 0
        self._lines = []
        for i, (due, amount) in enumerate(zip(due_days, amounts, strict=True)):
            cum += amount
            self._lines.append(_Line(due, cum, first and i == 0))

    def repayment(
        self, event_id: str, amount: int, day: int, *, partial: bool, third_party: bool
    ) -> None:
        self._resolve_promises(day)
        self._payments[event_id] = amount
        self._paid += amount
        if partial:
            self.signal(Signal.PARTIAL_PAYMENT, day)
        if third_party:
            self.signal(Signal.THIRD_PARTY_PAYER, day)
        while self._next < len(self._lines) and self._lines[self._next].cum_due <= self._paid:
            self._lines[self._next].settled_day = day
            self._next += 1

    def reversal(self, reversed_id: str, day: int) -> None:
        self._resolve_promises(day)
        self._paid -= self._payments.pop(reversed_id, 0)
        self.signal(Signal.REPAYMENT_REVERSED, day)
        while self._next > 0 and self._lines[self._next - 1].cum_due > self._paid:
            self._next -= 1
            self._lines[self._next].settled_day = None

    def promise(self, on_day: int, amount: int, day: int) -> None:
        self._resolve_promises(day)
        self._promises.append((on_day, amount, self._paid))

    def contact_change(self, day: int) -> None:
        self._resolve_promises(day)
        self._contacts.append(day)

    def bureau(self, inquiries: int, new_delinquencies: int, lawsuit: bool, day: int) -> None:
        self._resolve_promises(day)
        if inquiries >= INQUIRY_SURGE_MIN:
            self.signal(Signal.INQUIRY_SURGE, day)
        if new_delinquencies:
            self.signal(Signal.EXTERNAL_DELINQUENCY, day)
        if lawsuit:
            self.signal(Signal.LAWSUIT, day)

    def tick(self, day: int) -> None:
        """Any other event: lets promises whose day has passed be judged."""
        self._resolve_promises(day)

    def write_off(self, day: int) -> None:
        self._resolve_promises(day)
        self._write_off_day = day
        self.signal(Signal.WRITE_OFF, day)
        self._close_schedule(day)

    def _close_schedule(self, day: int) -> None:
        # Overdue lines stop ageing today (forgiven or written off); lines not yet
        # due are gone with the schedule that held them.
        for line in self._lines[self._next :]:
            if line.due_day < day:
                line.settled_day = day
                self._closed.append(line)
        self._closed.extend(self._lines[: self._next])
        self._lines, self._paid, self._next = [], 0, 0

    def _resolve_promises(self, day: int) -> None:
        # A promise for day P is kept if the promised amount arrived by the end of P.
        if not self._promises or self._promises[0][0] >= day:
            return
        open_ = []
        for on_day, amount, paid_then in self._promises:
            if on_day >= day:
                open_.append((on_day, amount, paid_then))
            elif self._paid - paid_then < amount:
                self.signal(Signal.BROKEN_PROMISE, on_day + 1)
        self._promises = sorted(open_)

    # -- the verdict -----------------------------------------------------------

    def label(
        self,
        *,
        loan_id: str,
        borrower_id: str,
        profile: Profile,
        product: str,
        end_day: int,
    ) -> LoanLabel:
        """The label once the stream is over; ``end_day`` is the first day after the period."""
        self._resolve_promises(end_day)
        last_day = end_day - 1
        lines = self._closed + self._lines
        late: list[tuple[int, int, _Line]] = []  # (days late, due day, line)
        for line in lines:
            if line.due_day > last_day:
                continue
            settled = line.settled_day if line.settled_day is not None else last_day
            late.append((max(0, settled - line.due_day), line.due_day, line))
        max_dpd = max((days for days, _, _ in late), default=0)
        for threshold, signal in (*_DPD_SIGNALS, (_BAD_DPD, Signal.DPD_90)):
            reached = [due + threshold for days, due, _ in late if days >= threshold]
            if reached:
                self.signal(signal, min(reached))
        missed = sorted(due for days, due, _ in late if days >= 1)
        if len(missed) >= 2:
            self.signal(Signal.REPEATED_LATE, missed[1] + 1)
        for days, due, line in late:
            if line.original_first and days >= 30:
                self.signal(Signal.FIRST_PAYMENT_DEFAULT, due + 30)
        near = [
            max(contact, due + 1)
            for contact in self._contacts
            for due in missed
            if abs(contact - due) <= NEAR_MISS_DAYS
        ]
        if near:
            self.signal(Signal.CONTACT_CHANGE_NEAR_MISS, min(near))
        bad_days = [due + _BAD_DPD for days, due, _ in late if days >= _BAD_DPD]
        if self._write_off_day is not None:
            bad_days.append(self._write_off_day)
        first_bad = min(bad_days) if bad_days else None
        ordered = sorted(self._seen, key=_SIGNAL_ORDER.__getitem__)
        return LoanLabel(
            loan_id=loan_id,
            borrower_id=borrower_id,
            profile=profile,
            product=product,
            expected_signals=tuple(ordered),
            signals_first_seen={s: day_to_date(self._seen[s]).isoformat() for s in ordered},
            defaulted=first_bad is not None,
            first_bad_date=day_to_date(first_bad).isoformat() if first_bad is not None else None,
            max_dpd=max_dpd,
            events=self.events,
        )
