"""One simulated loan: a lazy generator of its events in event-time order.

The life of a loan is simulated window by window (disbursement to the first
due date, then due date to due date, then month by month while arrears are
open). Each window *drafts* events: the account's background activity, the
profile's moves, the planned repayment of the installment due at the window's
end (possibly weeks later), collection calls on open arrears. Drafts go into a
small per-loan heap and are released, in time order, once no later window can
draft anything earlier. Nothing is kept after release, so a loan holds about
one window of events at a time, however long it lives.

Values that depend on history (an account's ``balance_after``, the ground
truth) are computed when a draft is *released*, in time order, never when it
is planned: a repayment planned weeks ahead still debits the account at its
own moment.

Subclasses in `streams.simulate.behaviour` decide what a profile does; this
module owns the mechanics every profile shares.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import Any, ClassVar

from rules import Event
from streams.simulate.emit import SOURCES, Emitter
from streams.simulate.identity import contact_ref, pseudonym
from streams.simulate.money import YUAN, split, whole_yuan
from streams.simulate.notes import DEFAULT_NOTE, INTENT_OF
from streams.simulate.products import Line, Product, build_schedule
from streams.simulate.profiles import Profile, Signal
from streams.simulate.timeline import (
    DAY,
    HOUR,
    add_months,
    date_to_day,
    day_start,
    day_to_date,
    local_day,
    monthly_days,
    random_time,
)
from streams.simulate.truth import LoanLabel

__all__ = ["LoanSim", "LoanTerms", "Slot"]


@dataclass(frozen=True, slots=True)
class LoanTerms:
    """What the book decides about a loan before its borrower acts: who, when, what product.

    One value instead of the same ten keywords in `LoanBook`, `make_loan` and
    every `LoanSim` constructor.
    """

    seed: int
    index: int
    start_ts: int
    end_ts: int
    product: Product
    principal: int
    rate_bps: int
    schedule: tuple[Line, ...]


class Slot:
    """One installment as the simulator plans it (the truth ledger keeps its own view)."""

    __slots__ = ("due_ts", "forgiven", "line", "paid", "payments", "planned", "seq", "settle_ts")

    def __init__(self, seq: int, line: Line) -> None:
        self.seq = seq
        self.line = line
        self.due_ts = day_start(date_to_day(line.due_date))
        self.paid = 0
        self.payments: list[tuple[int, int]] = []
        self.settle_ts: int | None = None
        self.planned = False
        self.forgiven = False

    @property
    def amount(self) -> int:
        return self.line.amount

    def remaining_at(self, ts: int) -> int:
        return self.amount - sum(amount for at, amount in self.payments if at <= ts)


def _team(dpd: int) -> str:
    if dpd <= 30:
        return "collections-m1"
    if dpd <= 60:
        return "collections-m2"
    if dpd <= 90:
        return "collections-m3"
    return "collections-legal"


class LoanSim:
    """The shared mechanics of a simulated loan; a profile subclass fills in the choices.

    Hooks for subclasses: `setup` (after the loan exists), `on_window` (once
    per window, before installments are planned), `plan` (an installment falls
    due at the window's end) and `note` (a collector calls on open arrears).

    Collectors label some of their notes a few days later (``note_labelled``,
    with the template's true intent, `streams.simulate.notes.INTENT_OF`). Whether
    and when is drawn from a generator of its own, and a label takes no number
    from the loan's event ids, so the rest of the loan's stream is the same with
    or without labels.
    """

    profile: Profile = Profile.GOOD_PAYER
    labelled: ClassVar[float] = 0.5
    """Share of collection notes a collector labels, 2-5 days after the call."""

    def __init__(self, rng: random.Random, terms: LoanTerms) -> None:
        seed, index, start_ts = terms.seed, terms.index, terms.start_ts
        product, principal, rate_bps = terms.product, terms.principal, terms.rate_bps
        schedule = terms.schedule
        self.rng = rng
        self.seed = seed
        self.index = index
        self.start = start_ts
        self.end = terms.end_ts
        self.product = product
        self.principal = principal
        self.rate_bps = rate_bps
        self.loan_id = f"sim-{seed}-{index:07d}"
        self.borrower_id = "bw-" + pseudonym(seed, index, "borrower")
        self.account = "acct-" + pseudonym(seed, index, "account")
        self.slots = [Slot(i + 1, line) for i, line in enumerate(schedule)]
        reference = schedule[0].amount
        low, high = (0.15, 0.40) if product.income == "salary" else (0.20, 0.50)
        self.income_kind: str | None = product.income
        self.income = whole_yuan(reference / rng.uniform(low, high))
        self.spend_monthly = whole_yuan(max(0, self.income - reference) * rng.uniform(0.6, 0.9))
        self.payday = rng.randint(1, 28)
        self.income_paused: list[tuple[int, int]] = []
        self.spend_factor_paused = 0.5
        self.quiet_from: int | None = None
        self.multi_from: int | None = None
        self.fund_use = True
        self.bureau_day: int | None = rng.randint(1, 28) if rng.random() < 0.5 else None
        self.surge_from: int | None = None
        self.delinquency_from: int | None = None
        self.lawsuit_from: int | None = None
        self.external_debt = whole_yuan(principal * rng.uniform(0.0, 2.0))
        self.close_ts: int | None = None
        self.max_pending = 0
        opening = whole_yuan(self.income * rng.uniform(0.3, 1.5))
        self.emitter = Emitter(
            loan_id=self.loan_id,
            borrower_id=self.borrower_id,
            account=self.account,
            principal=principal,
            product=product.name,
            rate_bps=rate_bps,
            balance=opening,
        )
        self.truth = self.emitter.truth
        self._projected = opening  # the disbursement's draft adds the principal
        self._pending: list[tuple[int, int, str, dict[str, Any], int, Signal | None]] = []
        self._seq = 0
        self._named = 0
        self._label_rng = random.Random(f"loanwatch-sim:{seed}:{index}:labels")  # noqa: S311
        self._disburse_day = local_day(start_ts)
        self._released_until = start_ts
        self.draft(start_ts, "disbursed", {"schedule": schedule}, delta=principal)
        self.setup()
        if self.fund_use:
            self._legitimate_use()

    # -- hooks -----------------------------------------------------------------

    def setup(self) -> None:
        """Draw the profile's own parameters; may draft events at or after the start."""

    def on_window(self, ws: int, we: int) -> None:
        """Profile moves in the window [ws, we), before its installments are planned."""

    def plan(self, slot: Slot) -> None:
        """Plan the repayment of ``slot``, which falls due at the end of this window."""
        self.pay_on_time(slot)

    def note(self, slot: Slot, at: int, dpd: int) -> tuple[str, Signal | None, str | None]:
        """A collector's call: (text, signal the text shows, promise: 'kept', 'broken' or None)."""
        return DEFAULT_NOTE, None, None

    # -- the generator -----------------------------------------------------------

    def events(self) -> Iterator[tuple[int, Event]]:
        """Yield ``(unix_seconds, event)`` in non-decreasing time, up to the period's end."""
        ws = self.start
        while ws < self.end:
            boundary = self._boundary(ws)
            if boundary is None:
                break
            we = min(boundary, self.end)
            self._background(ws, we)
            self.on_window(ws, we)
            for slot in list(self.slots):
                if ws < slot.due_ts <= we and not slot.planned:
                    slot.planned = True
                    if slot.settle_ts is None:
                        self.plan(slot)
            self._collections(ws, we)
            yield from self._release(we)
            if self.close_ts is not None and self.close_ts < we:
                break
            ws = we
        yield from self._release(self.end)

    def label(self) -> LoanLabel:
        """The ground truth, once `events` is exhausted."""
        return self.truth.label(
            loan_id=self.loan_id,
            borrower_id=self.borrower_id,
            profile=self.profile,
            product=self.product.name,
            end_day=local_day(self.end - 1) + 1,
        )

    def _boundary(self, ws: int) -> int | None:
        for slot in self.slots:
            if slot.due_ts > ws:
                return slot.due_ts
        if all(s.settle_ts is not None for s in self.slots):
            return None
        # Arrears outlive the schedule: keep the clock (and collections) going monthly.
        dom = min(self.slots[-1].line.due_date.day, 28)
        return day_start(date_to_day(add_months(day_to_date(local_day(ws)), 1, dom)))

    def _release(self, until: int) -> Iterator[tuple[int, Event]]:
        pending = self._pending
        self._released_until = until
        while pending and pending[0][0] < until:
            at, _, kind, fields, delta, tag = heappop(pending)
            if self.close_ts is not None and at > self.close_ts:
                continue
            event = self.emitter.build(at, kind, fields, delta, tag)
            if event is not None:
                self.truth.events += 1
                yield at, event

    # -- drafting ----------------------------------------------------------------

    def draft(
        self,
        at: int,
        kind: str,
        fields: dict[str, Any],
        *,
        delta: int = 0,
        tag: Signal | None = None,
        event_id: str | None = None,
    ) -> str:
        """Queue an event for release at ``at``; returns its event_id.

        Events are numbered in drafting order unless the caller names one
        (``event_id``): a named event takes no number, so the ids of the loan's
        other events do not depend on it.
        """
        if at < self._released_until:
            # Later events were already released: emitting this one would break time order.
            raise AssertionError(f"{self.loan_id}: draft at {at} before {self._released_until}")
        if event_id is None:
            seq = self._seq
            self._seq += 1
            event_id = f"{SOURCES[kind][1]}-{self.loan_id}-{seq}"
        else:
            self._named += 1
            seq = -self._named  # still unique in the heap, where ties are broken by it
        fields["event_id"] = event_id
        heappush(self._pending, (at, seq, kind, fields, delta, tag))
        self._projected += delta
        if len(self._pending) > self.max_pending:
            self.max_pending = len(self._pending)
        return event_id

    def txn(
        self, at: int, direction: str, amount: int, category: str, tag: Signal | None = None
    ) -> None:
        if amount <= 0:
            return  # nothing moved (a share of an empty balance): no event
        fields = {"direction": direction, "amount": amount, "counterparty_category": category}
        self.draft(at, "txn", fields, delta=amount if direction == "in" else -amount, tag=tag)

    def marker(self, at: int, signal: Signal) -> None:
        """A signal that shows as the *absence* of events (income stopped) at ``at``."""
        self.draft(at, "marker", {}, tag=signal)

    def contact(self, at: int, changed: str) -> None:
        ref = contact_ref(self.rng, changed)
        self.draft(at, "contact", {"changed": changed, "new_value_ref": ref})

    def repay(
        self,
        at: int,
        amount: int,
        covers: list[Slot],
        *,
        channel: str,
        third_party: bool = False,
    ) -> str:
        """Draft a repayment and record which installments it settles (oldest first)."""
        first = covers[0]
        if at < first.due_ts:
            kind = "early"
        elif amount < sum(slot.amount - slot.paid for slot in covers):
            kind = "partial"
        else:
            kind = "full"
        left = amount
        for slot in covers:
            take = min(left, slot.amount - slot.paid)
            if take <= 0:
                continue
            slot.paid += take
            slot.payments.append((at, take))
            left -= take
            if slot.paid >= slot.amount:
                slot.settle_ts = at
        payer = "acct-" + pseudonym(self.seed, self.index, "relative") if third_party else None
        fields = {
            "amount": amount,
            "kind": kind,
            "payer_account": payer or self.account,
            "payer_is_third_party": third_party,
            "channel": channel,
        }
        return self.draft(at, "repay", fields, delta=0 if third_party else -amount)

    def bounce_then_repay(self, at: int, amount: int, covers: list[Slot], channel: str) -> int:
        """A debit returned next morning, then paid again by app; returns the re-payment time."""
        fields = {
            "amount": amount,
            "kind": "early" if at < covers[0].due_ts else "full",
            "payer_account": self.account,
            "payer_is_third_party": False,
            "channel": channel,
        }
        bounced = self.draft(at, "repay", fields, delta=-amount)
        back = day_start(local_day(at) + 1) + self.rng.randint(8 * HOUR, 9 * HOUR)
        reason = self.rng.choice(
            (
                "direct debit returned: insufficient funds",
                "payment recalled by the payer's bank",
                "transfer rejected: account frozen for verification",
            )
        )
        self.draft(back, "reverse", {"reversed_event_id": bounced, "reason": reason}, delta=amount)
        again = back + self.rng.randint(2 * HOUR, 30 * HOUR)
        self.repay(again, amount, covers, channel="app")
        return again

    def pay_on_time(self, slot: Slot, *, bounce: float = 0.0) -> None:
        at = slot.due_ts + self.rng.randint(6 * HOUR, 10 * HOUR)
        if self.rng.random() < bounce:
            self.bounce_then_repay(at, slot.amount, [slot], "auto_debit")
        else:
            self.repay(at, slot.amount, [slot], channel="auto_debit")

    def pay_early(self, slot: Slot, days: int, *, bounce: float = 0.0) -> None:
        at = slot.due_ts - days * DAY + self.rng.randint(9 * HOUR, 21 * HOUR)
        # A bounce costs up to two days: only when there is room before the due date.
        if days >= 3 and self.rng.random() < bounce:
            self.bounce_then_repay(at, slot.amount, [slot], "app")
        else:
            self.repay(at, slot.amount, [slot], channel="app")

    def pay_late(
        self,
        slot: Slot,
        days: int,
        *,
        partial: bool = False,
        third_party: bool = False,
        bounce: float = 0.0,
    ) -> None:
        rng = self.rng
        at = slot.due_ts + days * DAY + rng.randint(9 * HOUR, 21 * HOUR)
        channel = rng.choice(("app", "bank_transfer", "app", "counter"))
        if partial and days >= 2:
            first = slot.due_ts + rng.randint(0, days - 1) * DAY + rng.randint(11 * HOUR, 21 * HOUR)
            part = max(YUAN, whole_yuan(slot.amount * rng.uniform(0.3, 0.7)))
            self.repay(first, part, [slot], channel=channel, third_party=third_party)
            self.repay(at, slot.amount - part, [slot], channel=channel, third_party=third_party)
        elif not third_party and rng.random() < bounce:
            self.bounce_then_repay(at, slot.amount, [slot], channel)
        else:
            self.repay(at, slot.amount, [slot], channel=channel, third_party=third_party)

    def write_off_after(self, slot: Slot, min_days: int, max_days: int) -> None:
        """Give up on the loan ``min_days..max_days`` after ``slot`` fell due (if in the period)."""
        at = slot.due_ts + self.rng.randint(min_days, max_days) * DAY + 10 * HOUR
        if at >= self.end:
            return
        live = [s for s in self.slots if not s.forgiven]
        owed = sum(s.amount - s.paid for s in live if s.due_ts <= at)
        owed += sum(s.line.principal for s in live if s.due_ts > at)
        reason = self.rng.choice(
            (
                "unrecoverable after collection and legal review",
                "borrower untraceable; balance written off",
                "no recovery expected; approved by credit committee",
            )
        )
        self.draft(at, "write_off", {"amount": max(owed, YUAN), "reason": reason})
        self.close_ts = at

    def restructure(
        self, at: int, reason: str, observation_months: int, *, replaces: list[Slot]
    ) -> None:
        """From ``at``, a longer schedule replaces ``replaces`` (overdue lines are forgiven).

        ``replaces`` must be unpaid: its principal is what the new schedule repays.
        """
        principal = sum(s.line.principal for s in replaces)
        months = max(2, len([s for s in replaces if s.due_ts > at]) + 3)
        start = day_to_date(local_day(at))
        first_due = add_months(start, 1, min(start.day, 28))
        lines = build_schedule(
            principal,
            self.rate_bps,
            months,
            self.product.method,
            first_due,
            fee=self.product.monthly_fee,
        )
        for slot in replaces:
            if slot.due_ts <= at:
                slot.forgiven = True
                slot.settle_ts = at
                slot.planned = True
        self.slots = [s for s in self.slots if s.due_ts <= at] + [
            Slot(i + 1, line) for i, line in enumerate(lines)
        ]
        fields = {
            "schedule": lines,
            "reason": reason,
            "observation_months": observation_months,
        }
        self.draft(at, "restructure", fields, tag=Signal.RESTRUCTURED)

    # -- background and collections --------------------------------------------------

    def _legitimate_use(self) -> None:
        """Spend most of the loan on what it was for, over the first weeks."""
        rng = self.rng
        business = self.product.income == "business"
        chunks = rng.randint(2, 4) if business else rng.randint(1, 3)
        total = whole_yuan(self.principal * rng.uniform(0.5, 0.95))
        for amount in split(rng, total, chunks):
            at = self.start + rng.randint(2, 20) * DAY + rng.randint(0, 8 * HOUR)
            category = "business" if business else rng.choice(("merchant", "merchant", "cash"))
            self.txn(at, "out", amount, category)

    def _background(self, ws: int, we: int) -> None:
        rng = self.rng
        days = max(1, (we - ws) // DAY)
        quiet = self.quiet_from is not None and ws >= self.quiet_from
        paused = any(a <= ws < b for a, b in self.income_paused)
        if self.income_kind == "salary" and not quiet:
            for day in monthly_days(ws, we, self.payday):
                at = day_start(day) + rng.randint(9 * HOUR, 11 * HOUR)
                if ws <= at < we and not any(a <= at < b for a, b in self.income_paused):
                    self.txn(at, "in", self.income, "salary")
        elif self.income_kind == "business" and not quiet and not paused:
            receipts = max(1, round(rng.randint(2, 4) * days / 30))
            for amount in split(rng, whole_yuan(self.income * days / 30), receipts):
                self.txn(random_time(rng, ws, we), "in", amount, "business")
        if not quiet and self.spend_monthly:
            factor = self.spend_factor_paused if paused else 1.0
            count = max(1, round(rng.randint(3, 6) * days / 30))
            total = whole_yuan(self.spend_monthly * factor * days / 30)
            for amount in split(rng, total, count):
                category = rng.choices(("merchant", "cash", "other"), (0.8, 0.15, 0.05))[0]
                self.txn(random_time(rng, ws, we), "out", amount, category)
        if self.multi_from is not None and ws >= self.multi_from and not quiet:
            for _ in range(max(1, round(rng.randint(3, 8) * days / 30))):
                amount = rng.randint(300, 3_000) * YUAN
                self.txn(
                    random_time(rng, ws, we), "out", amount, "other_lender", Signal.MULTI_LENDING
                )
            for _ in range(rng.randint(0, 2)):
                self.txn(
                    random_time(rng, ws, we),
                    "in",
                    rng.randint(1_000, 5_000) * YUAN,
                    "other_lender",
                )
        self._snapshots(ws, we)
        if self.bureau_day is not None:
            for day in monthly_days(ws, we, self.bureau_day):
                at = day_start(day) + 14 * HOUR  # 06:00 UTC, the bureau's batch
                if ws <= at < we:
                    self._bureau(at)

    def _snapshots(self, ws: int, we: int) -> None:
        first, stop = local_day(ws), local_day(we - 1) + 1
        due_eves = {local_day(s.due_ts) - 1 for s in self.slots if ws <= s.due_ts - DAY < we}
        for day in range(first, stop):
            if (day - self._disburse_day) % 7 == 6 or day in due_eves:
                self.draft(day_start(day + 1) - 1, "balance", {})

    def _bureau(self, at: int) -> None:
        rng = self.rng
        surging = self.surge_from is not None and at >= self.surge_from
        behind = self.delinquency_from is not None and at >= self.delinquency_from
        if surging:
            self.external_debt = whole_yuan(self.external_debt * rng.uniform(1.05, 1.15) + 500_000)
        fields = {
            "bureau": "pboc",
            "new_delinquencies": rng.randint(1, 2) if behind and rng.random() < 0.6 else 0,
            "inquiries": rng.randint(6, 15)
            if surging
            else rng.choices((0, 1, 2), (0.6, 0.3, 0.1))[0],
            "inquiry_window_days": 30,
            "has_lawsuit": self.lawsuit_from is not None and at >= self.lawsuit_from,
            "has_enforcement": False,
            "total_external_debt": self.external_debt,
        }
        self.draft(at, "bureau", fields)

    def _collections(self, ws: int, we: int) -> None:
        """Collectors call on the oldest open arrears at 5, 35, 65, ... days past due."""
        rng = self.rng
        for slot in self.slots:
            if slot.due_ts >= we:
                break
            settle = slot.settle_ts
            if settle is not None and settle <= slot.due_ts + 5 * DAY:
                continue
            first_j = max(0, ((ws - slot.due_ts) // DAY - 5) // 30)
            for j in range(first_j, first_j + 3):
                dpd = 5 + 30 * j
                at = slot.due_ts + dpd * DAY + rng.randint(10 * HOUR, 18 * HOUR)
                if at >= we or (settle is not None and settle <= at):
                    break
                if at >= ws and self._oldest_open(at) is slot:
                    self._call(slot, at, dpd)

    def _oldest_open(self, at: int) -> Slot | None:
        for slot in self.slots:
            if slot.due_ts >= at:
                return None
            if slot.settle_ts is None or slot.settle_ts > at:
                return slot
        return None

    def _call(self, slot: Slot, at: int, dpd: int) -> None:
        text, tag, promise = self.note(slot, at, dpd)
        fields: dict[str, Any] = {"text": text, "author_team": _team(dpd), "promise_to_pay": None}
        arrears = [
            s for s in self.slots if s.due_ts < at and (s.settle_ts is None or s.settle_ts > at)
        ]
        owed = sum(s.remaining_at(at) for s in arrears)
        today = local_day(at)
        cleared: int | None = None
        if arrears and not any(s.settle_ts is None or s.forgiven for s in arrears):
            cleared = max(s.settle_ts or 0 for s in arrears)
        if promise == "kept" and cleared is not None and owed > 0:
            fields["promise_to_pay"] = (local_day(cleared), owed)
        elif promise is not None and owed > 0:
            latest = today + self.rng.randint(2, 7)
            if cleared is not None:
                latest = min(latest, local_day(cleared) - 1)
            if latest > today:
                fields["promise_to_pay"] = (latest, owed)
        note_id = self.draft(at, "note", fields, tag=tag)
        self._label_later(at, note_id, text, fields["author_team"])

    def _label_later(self, at: int, note_id: str, text: str, team: str) -> None:
        """The collector who wrote the note labels it some days later (or never)."""
        rng = self._label_rng
        if rng.random() >= self.labelled:
            return
        when = day_start(local_day(at) + rng.randint(2, 5)) + rng.randint(9 * HOUR, 18 * HOUR)
        if when >= self.end:
            return
        fields = {"note_event_id": note_id, "intent": INTENT_OF[text], "text": text}
        self.draft(when, "label", {**fields, "labelled_by": team}, event_id=f"{note_id}-label")
