"""Behaviour features of one loan's borrower: money flows, balances, bureau, contacts.

Rules read these as ``features.<name>`` (see `rules.vocabulary`). They must be
cheap to keep for millions of loans, so every update is O(1) amortised and the
memory is bounded: money flows live in sparse daily bins that are dropped once
older than the longest window (90 days), and running sums per window are moved
forward as days pass instead of being re-added. Balances, bureau reports and
collateral values keep only the latest observation per account, report or item
(by event time, so a late event never overwrites a newer one).

Amounts in another currency than the loan's are left out: the monitor does no
currency conversion, and adding yuan to dollars would be worse than ignoring them.

Each day-based value is relative to the loan's clock day, which the loan state
moves forward (`Features.today`); nothing here reads the wall clock.

Examples
--------
>>> f = Features.start(disbursed_on=738_000, principal=100_000, currency="CNY")
>>> f.on_transaction(738_001, 1, 0, "in", 30_000, "salary", "CNY", "acct-1", 5_000)
>>> f.today = 738_010
>>> f.inflow_7d, f.inflow_30d, f.salary_30d, f.days_since_salary
(0, 30000, 30000, 9)
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["WINDOWS", "Features"]

WINDOWS: Final = (7, 30, 90)
"""Rolling windows in days; a window of w days holds days ``today - w + 1 .. today``."""

_IN, _OUT, _SALARY, _OTHER_LENDER = range(4)
_COLUMNS: Final = 4
_SHORT, _MIDDLE, _HORIZON = WINDOWS
_HIGH_DAYS: Final = 7
_CONTACT_DAYS: Final = 30
_MAX_ACCOUNTS: Final = 8
_MAX_COLLATERAL: Final = 8
_NONE: Final = -1
_DEFAULT_PARAMS: Final = (5000, frozenset({"securities", "property", "other_lender"}), 30)


@dataclass(slots=True)
class Features:
    """The features of one loan; part of `rules.loan.LoanState` and of its bytes."""

    disbursed_on: int
    principal: int
    currency: str
    today: int
    diverted_30d: int = 0
    _days: list[int] = field(default_factory=list)
    _bins: list[list[int]] = field(default_factory=list)  # per day: in, out, salary, #other
    _last_salary: int = 0
    _balances: dict[str, list[int]] = field(default_factory=dict)  # account: [t, h, balance]
    _high_days: list[int] = field(default_factory=list)
    _high_vals: list[int] = field(default_factory=list)  # highest total balance of that day
    _first_large: int = _NONE  # days from disbursement to the first large outflow
    _bureau: list[list[int]] = field(default_factory=list)  # [t, h, new, inq, lawsuit, enf]
    _contacts: list[int] = field(default_factory=list)  # days of changes, last 30 days
    _last_contact: int = 0
    _collateral: dict[str, list[int]] = field(default_factory=dict)  # id: [t, h, value]
    # The latest statement: [t, h, previous balance, payments, balance, minimum, limit or 0].
    _statement: list[int] = field(default_factory=list)
    # Written by the loan state: repayment timing and the principal still owed.
    dbd_sum: int = 0
    dbd_count: int = 0
    outstanding: int = 0
    # Derived from the above; rebuilt on load, so not part of equality.
    _synced: int = field(default=0, compare=False)
    _edges: list[int] = field(default_factory=lambda: [0, 0, 0], compare=False)
    _sums: list[list[int]] = field(
        default_factory=lambda: [[0] * _COLUMNS for _ in WINDOWS], compare=False
    )

    @classmethod
    def start(cls, *, disbursed_on: int, principal: int, currency: str) -> Features:
        """Features of a loan just paid out: nothing observed yet."""
        return cls(
            disbursed_on=disbursed_on,
            principal=principal,
            currency=currency,
            today=disbursed_on,
            outstanding=principal,
            _synced=disbursed_on,
        )

    # Updates, one per event kind. Days are ordinals of the loan's local calendar.

    def on_transaction(
        self,
        day: int,
        t: int,
        h: int,
        direction: str,
        amount: int,
        category: str,
        currency: str,
        account: str,
        balance_after: int,
        params: tuple[int, frozenset[str], int] = _DEFAULT_PARAMS,
    ) -> None:
        """An account movement: flows, salary, diversion, multi-lending, balance.

        ``params`` is `rules.policy.Policy.feature_params`: (large outflow share in
        basis points of the principal, diversion categories, diversion window days).
        """
        if currency != self.currency:
            return
        if direction == "in":
            self._add(day, _IN, amount)
            if category == "salary":
                self._add(day, _SALARY, amount)
                if day > self._last_salary:
                    self._last_salary = day
        else:
            self._add(day, _OUT, amount)
            if category == "other_lender":
                self._add(day, _OTHER_LENDER, 1)
            since = day - self.disbursed_on
            if since >= 0:
                large_bps, diversion, diversion_days = params
                if category in diversion and since < diversion_days:
                    self.diverted_30d += amount
                if amount * 10_000 >= self.principal * large_bps and (
                    self._first_large == _NONE or since < self._first_large
                ):
                    self._first_large = since
        self.on_balance(day, t, h, account, balance_after, currency)

    def on_balance(
        self, day: int, t: int, h: int, account: str, balance: int, currency: str
    ) -> None:
        """A balance observation; the latest per account wins, by event time."""
        if currency != self.currency:
            return
        balances = self._balances
        latest = balances.get(account)
        if latest is None:
            if len(balances) >= _MAX_ACCOUNTS:
                oldest = min(balances, key=lambda a: (balances[a][0], balances[a][1]))
                del balances[oldest]
            balances[account] = [t, h, balance]
        elif t > latest[0] or (t == latest[0] and h > latest[1]):
            latest[0], latest[1], latest[2] = t, h, balance
        if len(balances) == 1:
            self._note_high(day, balance)
        else:
            others = sum(v[2] for a, v in balances.items() if a != account)
            self._note_high(day, others + balance)

    def on_bureau(
        self, t: int, h: int, new_delinquencies: int, inquiries: int, lawsuit: bool, enf: bool
    ) -> None:
        """A bureau report; the latest two (by event time) are kept for the jump."""
        insort(self._bureau, [t, h, new_delinquencies, inquiries, int(lawsuit), int(enf)])
        if len(self._bureau) > 2:
            del self._bureau[0]

    def on_contact_change(self, day: int) -> None:
        self._sync()
        if day > self.today - _CONTACT_DAYS:
            insort(self._contacts, day)
        if day > self._last_contact:
            self._last_contact = day

    def on_collateral(self, t: int, h: int, collateral_id: str, value: int) -> None:
        """A valuation; the latest per collateral item wins, by event time."""
        items = self._collateral
        latest = items.get(collateral_id)
        if latest is None:
            if len(items) >= _MAX_COLLATERAL:
                oldest = min(items, key=lambda c: (items[c][0], items[c][1]))
                del items[oldest]
            items[collateral_id] = [t, h, value]
        elif (t, h) > (latest[0], latest[1]):
            latest[0], latest[1], latest[2] = t, h, value

    def on_statement(
        self,
        t: int,
        h: int,
        previous_balance: int,
        payments: int,
        balance: int,
        minimum_due: int,
        credit_limit: int | None,
    ) -> None:
        """A billing statement; the latest (by event time) wins, like a balance."""
        latest = self._statement
        if latest and (t, h) <= (latest[0], latest[1]):
            return
        self._statement = [
            t,
            h,
            previous_balance,
            payments,
            balance,
            minimum_due,
            credit_limit or 0,
        ]

    # The vocabulary.

    @property
    def inflow_7d(self) -> int:
        if self._synced != self.today:
            self._sync()
        return self._sums[0][_IN]

    @property
    def inflow_30d(self) -> int:
        if self._synced != self.today:
            self._sync()
        return self._sums[1][_IN]

    @property
    def inflow_90d(self) -> int:
        if self._synced != self.today:
            self._sync()
        return self._sums[2][_IN]

    @property
    def outflow_7d(self) -> int:
        if self._synced != self.today:
            self._sync()
        return self._sums[0][_OUT]

    @property
    def outflow_30d(self) -> int:
        if self._synced != self.today:
            self._sync()
        return self._sums[1][_OUT]

    @property
    def outflow_90d(self) -> int:
        if self._synced != self.today:
            self._sync()
        return self._sums[2][_OUT]

    @property
    def salary_30d(self) -> int:
        if self._synced != self.today:
            self._sync()
        return self._sums[1][_SALARY]

    @property
    def salary_prev_60d(self) -> int:
        """Salary 31 to 90 days ago: the baseline a stopped salary is judged against."""
        if self._synced != self.today:
            self._sync()
        return self._sums[2][_SALARY] - self._sums[1][_SALARY]

    @property
    def days_since_salary(self) -> int | None:
        return self.today - self._last_salary if self._last_salary else None

    @property
    def other_lender_payments_30d(self) -> int:
        if self._synced != self.today:
            self._sync()
        return self._sums[1][_OTHER_LENDER]

    @property
    def balance(self) -> int | None:
        """Sum of the latest balance of each account, or None before any was seen."""
        balances = self._balances
        if len(balances) == 1:
            for latest in balances.values():
                return latest[2]
        if not balances:
            return None
        return sum(v[2] for v in balances.values())

    @property
    def balance_drop_7d(self) -> float:
        """Fall from the 7-day high as a share of that high (0.0 without a positive high)."""
        return self._drop(self.balance)

    def _drop(self, balance: int | None) -> float:
        if balance is None:
            return 0.0
        if self._synced != self.today:
            self._sync()
        vals = self._high_vals
        high = max(vals) if vals else balance
        if high <= 0 or balance >= high:
            return 0.0
        return (high - balance) / high

    @property
    def diverted_share(self) -> float:
        return self.diverted_30d / self.principal

    @property
    def days_to_first_large_outflow(self) -> int | None:
        return None if self._first_large == _NONE else self._first_large

    @property
    def bureau_new_delinquencies(self) -> int:
        return self._bureau[-1][2] if self._bureau else 0

    @property
    def bureau_inquiries(self) -> int:
        return self._bureau[-1][3] if self._bureau else 0

    @property
    def bureau_inquiry_jump(self) -> int:
        """Latest inquiries minus the previous report's; 0 until there are two reports."""
        if len(self._bureau) < 2:
            return 0
        return self._bureau[-1][3] - self._bureau[-2][3]

    @property
    def bureau_lawsuit(self) -> bool:
        return bool(self._bureau and self._bureau[-1][4])

    @property
    def bureau_enforcement(self) -> bool:
        return bool(self._bureau and self._bureau[-1][5])

    @property
    def contact_changes_30d(self) -> int:
        self._sync()
        return len(self._contacts)

    @property
    def days_since_contact_change(self) -> int | None:
        return self.today - self._last_contact if self._last_contact else None

    @property
    def avg_days_before_due(self) -> float | None:
        """Mean of (due date - payment day) over repayments; negative when paid late."""
        return self.dbd_sum / self.dbd_count if self.dbd_count else None

    @property
    def collateral_ltv(self) -> float | None:
        if not self._collateral:
            return None
        value = sum(v[2] for v in self._collateral.values())
        return self.outstanding / value if value > 0 else None

    @property
    def statement_balance(self) -> int | None:
        """The latest statement's balance, or None before any statement."""
        return self._statement[4] if self._statement else None

    @property
    def statement(self) -> tuple[int, int, int, int] | None:
        """The latest statement's previous balance, payments, balance and limit (0: none)."""
        s = self._statement
        return (s[2], s[3], s[4], s[6]) if s else None

    @property
    def statement_utilisation(self) -> float | None:
        """The latest statement's balance as a share of its credit limit (None without one)."""
        if not self._statement or not self._statement[6]:
            return None
        return self._statement[4] / self._statement[6]

    @property
    def statement_paid_share(self) -> float | None:
        """Payments on the latest statement as a share of the balance before it.

        None when there was nothing to pay (no statement, or a previous balance
        of zero or in credit): paying nothing of nothing is neither good nor bad.
        """
        if not self._statement or self._statement[2] <= 0:
            return None
        return self._statement[3] / self._statement[2]

    @property
    def statement_paid_in_full(self) -> bool:
        """The latest statement shows the previous balance paid off (a transactor)."""
        s = self._statement
        return bool(s) and s[2] > 0 and s[3] >= s[2]

    @property
    def statement_revolving(self) -> bool:
        """The latest statement shows part of the previous balance carried over."""
        s = self._statement
        return bool(s) and s[2] > 0 and s[3] < s[2]

    # Bins and windows.

    def _add(self, day: int, column: int, amount: int) -> None:
        today = self.today
        if self._synced != today:
            self._sync()
        days, bins, sums = self._days, self._bins, self._sums
        if days and days[-1] == day:
            bins[-1][column] += amount  # the common case: another movement on the last day
        elif day <= today - _HORIZON:
            return
        else:
            index = bisect_left(days, day)
            if index < len(days) and days[index] == day:
                bins[index][column] += amount
            else:
                row = [0] * _COLUMNS
                row[column] = amount
                days.insert(index, day)
                bins.insert(index, row)
                edges = self._edges
                for k, window in enumerate(WINDOWS):
                    if day <= today - window:  # a new bin left of this window's edge
                        edges[k] += 1
        # Every bin kept is inside the longest window; the shorter ones nest in it.
        if day > today - _SHORT:
            sums[0][column] += amount
            sums[1][column] += amount
        elif day > today - _MIDDLE:
            sums[1][column] += amount
        sums[2][column] += amount

    def _note_high(self, day: int, total: int) -> None:
        days, vals = self._high_days, self._high_vals
        if days and days[-1] == day:
            if total > vals[-1]:
                vals[-1] = total
            return
        self._sync()
        if day <= self.today - _HIGH_DAYS:
            return
        index = bisect_left(days, day)
        if index < len(days) and days[index] == day:
            if total > vals[index]:
                vals[index] = total
        else:
            days.insert(index, day)
            vals.insert(index, total)

    def _sync(self) -> None:
        """Move every window's edge to today and drop what no window needs any more."""
        today = self.today
        if self._synced == today:
            return
        self._synced = today
        days = self._days
        if days:
            bins, edges, sums, n = self._bins, self._edges, self._sums, len(days)
            for k, window in enumerate(WINDOWS):
                limit = today - window
                edge = edges[k]
                if edge < n and days[edge] <= limit:
                    total = sums[k]
                    while edge < n and days[edge] <= limit:
                        money_in, money_out, salary, other = bins[edge]  # the _COLUMNS
                        total[_IN] -= money_in
                        total[_OUT] -= money_out
                        total[_SALARY] -= salary
                        total[_OTHER_LENDER] -= other
                        edge += 1
                    edges[k] = edge
            gone = edges[-1]
            if gone:
                del days[:gone]
                del bins[:gone]
                for k in range(len(edges)):
                    edges[k] -= gone
        high_days = self._high_days
        if high_days and high_days[0] <= today - _HIGH_DAYS:
            cut = bisect_right(high_days, today - _HIGH_DAYS)
            del high_days[:cut]
            del self._high_vals[:cut]
        contacts = self._contacts
        if contacts and contacts[0] <= today - _CONTACT_DAYS:
            del contacts[: bisect_right(contacts, today - _CONTACT_DAYS)]

    def _rebuild(self) -> None:
        """Put the window edges back after loading (the sums are stored with the bins)."""
        self._synced = self.today
        for k, window in enumerate(WINDOWS):
            self._edges[k] = bisect_right(self._days, self.today - window)

    # Serialization: plain lists, days relative to today, read back by `from_obj`.
    # The window sums are stored too: rebuilding them would cost more than their bytes.

    def to_obj(self) -> list[Any]:
        self._sync()
        today = self.today
        return [
            self.disbursed_on,
            self.principal,
            self.currency,
            today,
            self.diverted_30d,
            [today - d for d in self._days],
            self._bins,
            self._sums,
            self._last_salary,
            [[a, *v] for a, v in self._balances.items()],
            [today - d for d in self._high_days],
            self._high_vals,
            self._first_large,
            self._bureau,
            [today - d for d in self._contacts],
            self._last_contact,
            [[c, *v] for c, v in self._collateral.items()],
            self.dbd_sum,
            self.dbd_count,
            self.outstanding,
            # Only when there is one: a loan without statements keeps the bytes
            # it had before statements existed (and older records still read).
            *([self._statement] if self._statement else []),
        ]

    @classmethod
    def from_obj(cls, obj: list[Any]) -> Features:
        (
            disbursed_on,
            principal,
            currency,
            today,
            diverted,
            days,
            bins,
            sums,
            last_salary,
            balances,
            high_days,
            high_vals,
            first_large,
            bureau,
            contacts,
            last_contact,
            collateral,
            dbd_sum,
            dbd_count,
            outstanding,
            *statement,
        ) = obj
        features = cls(  # positional, in field order: cheaper than keywords
            disbursed_on,
            principal,
            currency,
            today,
            diverted,
            [today - d for d in days],
            bins,
            last_salary,
            {row[0]: row[1:] for row in balances},
            [today - d for d in high_days],
            high_vals,
            first_large,
            bureau,
            [today - d for d in contacts],
            last_contact,
            {row[0]: row[1:] for row in collateral},
            statement[0] if statement else [],
            dbd_sum,
            dbd_count,
            outstanding,
            today,
            [0, 0, 0],
            sums,
        )
        features._rebuild()
        return features
