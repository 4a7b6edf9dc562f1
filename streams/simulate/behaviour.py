"""What each behaviour profile does, one small subclass of `LoanSim` each.

Every probability a profile uses is a class attribute, so docs/simulator.md
can quote them and a reader can find them in one place. The mechanics
(drafting, balances, collections, ground truth) live in `streams.simulate.loan`.
"""

from __future__ import annotations

import random
from typing import ClassVar, Final

from streams.simulate.loan import LoanSim, LoanTerms, Slot
from streams.simulate.money import whole_yuan
from streams.simulate.notes import EVASIVE, HARDSHIP, REFUSAL, REMINDERS, UNREACHABLE
from streams.simulate.profiles import DIVERSION_CATEGORIES, Profile, Signal
from streams.simulate.timeline import DAY, HOUR, day_start, day_to_date, local_day

__all__ = ["BEHAVIOURS", "make_loan"]


class GoodPayer(LoanSim):
    """Pays every installment on its due date, sometimes a few days early."""

    profile = Profile.GOOD_PAYER
    early: ClassVar[float] = 0.25
    bounce: ClassVar[float] = 0.06
    """Chance an early payment (3+ days ahead) bounces and is paid again before the due date."""
    moves_house: ClassVar[float] = 0.05

    def setup(self) -> None:
        if self.rng.random() < self.moves_house:
            self.contact(self.start + self.rng.randint(30, 300) * DAY + 15 * HOUR, "address")

    def plan(self, slot: Slot) -> None:
        if self.rng.random() < self.early:
            self.pay_early(slot, self.rng.randint(1, 5), bounce=self.bounce)
        else:
            self.pay_on_time(slot)


class LatePayer(LoanSim):
    """Often 1-20 days late, sometimes a part first and the rest later; cures each time."""

    profile = Profile.LATE_PAYER
    late: ClassVar[float] = 0.6
    partial: ClassVar[float] = 0.3
    bounce: ClassVar[float] = 0.05
    has_relative: ClassVar[float] = 0.15
    relative_pays: ClassVar[float] = 0.5
    promises: ClassVar[float] = 0.8
    breaks_promise: ClassVar[float] = 0.25

    def setup(self) -> None:
        self.relative = self.rng.random() < self.has_relative

    def plan(self, slot: Slot) -> None:
        rng = self.rng
        if rng.random() < self.late:
            self.pay_late(
                slot,
                int(rng.triangular(1, 20, 3)),
                partial=rng.random() < self.partial,
                third_party=self.relative and rng.random() < self.relative_pays,
                bounce=self.bounce,
            )
        else:
            self.pay_on_time(slot)

    def note(self, slot: Slot, at: int, dpd: int) -> tuple[str, Signal | None, str | None]:
        rng = self.rng
        promise = None
        if rng.random() < self.promises:
            promise = "broken" if rng.random() < self.breaks_promise else "kept"
        return rng.choice(REMINDERS), None, promise


class HardshipCure(LoanSim):
    """Income stops, the balance drains, 1-3 installments are missed, then it catches up.

    Some are restructured instead of catching up; they then pay the new schedule.
    """

    profile = Profile.HARDSHIP_CURE
    restructured: ClassVar[float] = 0.35
    third_party_catch_up: ClassVar[float] = 0.3
    first_promise_broken: ClassVar[float] = 0.3

    def setup(self) -> None:
        rng = self.rng
        count = len(self.slots)
        self.first_missed = rng.randint(2, max(2, count // 3))
        self.missed = rng.choices((1, 2, 3), (0.3, 0.4, 0.3))[0]
        self.missed = min(self.missed, count - self.first_missed + 1)
        self.restructures = (
            self.missed >= 2 and count - self.first_missed >= 2 and rng.random() < self.restructured
        )
        if self.restructures:
            self.missed = 2
        self.begun = False
        self.calls = 0

    def on_window(self, ws: int, we: int) -> None:
        # Planned in the window that ends with the last installment paid normally, so
        # the salary that stops is one the background has not drafted yet.
        if self.begun or we < self.slots[self.first_missed - 2].due_ts:
            return
        self.begun = True
        rng = self.rng
        tail = self.slots[self.first_missed - 1 :]
        missed = tail[: self.missed]
        for slot in missed:
            slot.planned = True
        pause_from = we
        drained = missed[0].due_ts - rng.randint(3, 6) * DAY + rng.randint(10 * HOUR, 20 * HOUR)
        drop = max(self.income // 2, int(max(0, self._projected) * rng.uniform(0.7, 0.9)))
        self.txn(max(drained, we), "out", whole_yuan(drop), "other", Signal.BALANCE_DROP)
        if self.restructures:
            cured = missed[-1].due_ts + rng.randint(5, 15) * DAY + 11 * HOUR
            self.restructure(
                cured,
                "temporary hardship: income stopped, expected to resume",
                rng.choice((3, 6, 6, 12)),
                replaces=tail,
            )
        else:
            cured = missed[-1].due_ts + rng.randint(3, 20) * DAY + rng.randint(9 * HOUR, 20 * HOUR)
            owed = sum(slot.amount for slot in missed)
            third = rng.random() < self.third_party_catch_up
            self.repay(cured, owed, missed, channel="bank_transfer", third_party=third)
        resume = cured - rng.randint(2, 10) * DAY
        skipped = self._first_payday_from(pause_from)
        resume = max(resume, skipped + 2 * DAY)
        self.income_paused.append((pause_from, resume))
        if self.income_kind == "salary":
            # The signal is an absence: visible once the payday has passed without salary.
            self.marker(skipped + DAY + 9 * HOUR, Signal.INCOME_STOPPED)
        else:
            self.marker(pause_from + 14 * DAY, Signal.INCOME_STOPPED)

    def _first_payday_from(self, ts: int) -> int:
        day = local_day(ts)
        while True:
            if day_to_date(day).day == self.payday and day_start(day) + 11 * HOUR >= ts:
                return day_start(day)
            day += 1

    def note(self, slot: Slot, at: int, dpd: int) -> tuple[str, Signal | None, str | None]:
        self.calls += 1
        broken = self.restructures or (
            self.calls == 1 and self.rng.random() < self.first_promise_broken
        )
        # Salaried borrowers lose jobs; business borrowers lose trade (texts 0-1 vs 0, 2).
        texts = HARDSHIP[:2] if self.income_kind == "salary" else HARDSHIP[::2]
        return self.rng.choice(texts), Signal.HARDSHIP, "broken" if broken else "kept"


class StrategicDefault(LoanSim):
    """Pays a few installments, then stops for good although money keeps flowing."""

    profile = Profile.STRATEGIC_DEFAULT
    writes_off: ClassVar[float] = 0.6
    changes_phone: ClassVar[float] = 0.3
    sued: ClassVar[float] = 0.3
    external_arrears: ClassVar[float] = 0.3
    slightly_late: ClassVar[float] = 0.2

    def setup(self) -> None:
        count = len(self.slots)
        self.pays = self.rng.randint(2, max(2, min(5, count - 1)))
        self.stopped = False

    def plan(self, slot: Slot) -> None:
        if slot.seq <= self.pays and not self.stopped:
            if self.rng.random() < self.slightly_late:
                self.pay_late(slot, self.rng.randint(1, 5))
            else:
                self.pay_on_time(slot)
            return
        if not self.stopped:
            self._stop(slot)

    def _stop(self, slot: Slot) -> None:
        rng = self.rng
        self.stopped = True
        if rng.random() < self.changes_phone:
            self.contact(slot.due_ts + rng.randint(0, 20) * DAY + 19 * HOUR, "phone")
        if self.bureau_day is not None and rng.random() < self.external_arrears:
            self.delinquency_from = slot.due_ts + rng.randint(20, 60) * DAY
        if self.bureau_day is not None and rng.random() < self.sued:
            self.lawsuit_from = slot.due_ts + rng.randint(90, 150) * DAY
        if rng.random() < self.writes_off:
            self.write_off_after(slot, 180, 210)

    def on_window(self, ws: int, we: int) -> None:
        if self.stopped and self.rng.random() < 0.7:
            # Money is moved away from the account the lender can see.
            amount = whole_yuan(max(0, self._projected) * self.rng.uniform(0.5, 0.9))
            if amount > 0:
                at = ws + self.rng.randint(1, 5) * DAY + 20 * HOUR
                if at < we:
                    self.txn(at, "out", amount, "own_account")

    def note(self, slot: Slot, at: int, dpd: int) -> tuple[str, Signal | None, str | None]:
        rng = self.rng
        if dpd < 30:
            return rng.choice(EVASIVE), None, "broken" if rng.random() < 0.5 else None
        return rng.choice(REFUSAL), Signal.REFUSAL, None


class FundDiversion(StrategicDefault):
    """Moves most of the loan to securities, property or other lenders within days.

    Half of them later stop paying, as a strategic defaulter does.
    """

    profile = Profile.FUND_DIVERSION
    defaults: ClassVar[float] = 0.5
    writes_off: ClassVar[float] = 0.3

    def setup(self) -> None:
        rng = self.rng
        self.fund_use = False
        self.stopped = False
        count = len(self.slots)
        defaults = rng.random() < self.defaults
        self.pays = rng.randint(1, max(1, min(6, count - 1))) if defaults else count
        total = whole_yuan(self.principal * rng.uniform(0.6, 1.0))
        transfers = rng.choice((1, 1, 2))
        share = whole_yuan(total / transfers)
        for _ in range(transfers):
            at = self.start + rng.randint(1, 7) * DAY + rng.randint(9 * HOUR, 17 * HOUR)
            category = rng.choice(DIVERSION_CATEGORIES)
            self.txn(at, "out", share, category, Signal.FUND_DIVERSION)


class MultiLender(LoanSim):
    """Borrows from many lenders: small repayments elsewhere, inquiries surge, later late."""

    profile = Profile.MULTI_LENDER
    stops: ClassVar[float] = 0.35
    relative_pays: ClassVar[float] = 0.2

    def setup(self) -> None:
        rng = self.rng
        self.bureau_day = self.bureau_day or rng.randint(1, 28)
        self.multi_from = self.start + rng.randint(0, 30) * DAY
        self.surge_from = self.start + rng.randint(0, 60) * DAY
        self.delinquency_from = self.start + rng.randint(60, 150) * DAY
        self.spend_monthly = self.spend_monthly // 2
        self.on_time = rng.randint(2, 4)
        self.stop_at = self.on_time + rng.randint(1, 3) if rng.random() < self.stops else None

    def plan(self, slot: Slot) -> None:
        rng = self.rng
        if slot.seq <= self.on_time:
            self.pay_on_time(slot)
        elif self.stop_at is None or slot.seq < self.stop_at:
            # Lateness grows month by month, and stays ordered: each payment is later.
            days = min(45, 5 + 8 * (slot.seq - self.on_time)) + rng.randint(0, 4)
            self.pay_late(slot, days, third_party=rng.random() < self.relative_pays)

    def note(self, slot: Slot, at: int, dpd: int) -> tuple[str, Signal | None, str | None]:
        return self.rng.choice(EVASIVE), None, "kept" if self.rng.random() < 0.5 else "broken"


class Fraud(LoanSim):
    """Changes contact details at once, cashes the loan out, never pays, cannot be reached."""

    profile = Profile.FRAUD
    writes_off: ClassVar[float] = 0.7

    def setup(self) -> None:
        rng = self.rng
        self.fund_use = False
        self.income_kind = None
        self.spend_monthly = 0
        self.quiet_from = self.start + 4 * DAY
        self.contact(self.start + rng.randint(1, 3) * DAY + rng.randint(0, 6 * HOUR), "phone")
        for changed in ("email", "address"):
            if rng.random() < 0.5:
                self.contact(self.start + rng.randint(1, 10) * DAY + 20 * HOUR, changed)
        total = whole_yuan(self.principal * rng.uniform(0.9, 1.0))
        chunks = rng.randint(2, 4)
        for _ in range(chunks):
            at = self.start + rng.randint(1, 3) * DAY + rng.randint(8 * HOUR, 23 * HOUR)
            category = rng.choice(("cash", "own_account", "other"))
            self.txn(at, "out", whole_yuan(total / chunks), category)
        if rng.random() < self.writes_off:
            self.write_off_after(self.slots[0], 180, 210)

    def plan(self, slot: Slot) -> None:
        return None

    def note(self, slot: Slot, at: int, dpd: int) -> tuple[str, Signal | None, str | None]:
        return self.rng.choice(UNREACHABLE), Signal.UNREACHABLE, None


BEHAVIOURS: Final[dict[Profile, type[LoanSim]]] = {
    cls.profile: cls
    for cls in (
        GoodPayer,
        LatePayer,
        HardshipCure,
        StrategicDefault,
        FundDiversion,
        MultiLender,
        Fraud,
    )
}
"""The class that plays each profile."""


def make_loan(rng: random.Random, profile: Profile, terms: LoanTerms) -> LoanSim:
    """Build the simulated loan that plays ``profile``."""
    return BEHAVIOURS[profile](rng, terms)
