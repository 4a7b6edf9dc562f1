"""Delayed labels: the feature snapshots of a loan's scoring moments, kept until the outcome.

Whether a score was right is known only later: the loan reaches 90+ DPD or is
written off (bad, label 1), or the horizon passes without that (good, label
0). `PendingLabels` keeps, per loan, the feature vectors that were scored, at
most one per ``spacing_days`` and at most ``capacity`` of them (the oldest is
dropped when full), and hands them back with their label once known, oldest
first, so the model learns in the order the world happened.

A snapshot taken on day ``d`` is labelled by what happens in ``(d, d + horizon]``:

- bad on day ``b``: every snapshot with ``d > b - horizon`` is labelled 1 (older
  ones were labelled 0 when their horizon passed) and the store closes;
- no bad state by ``d + horizon``: labelled 0 on that day;
- the loan ends well (repaid) before the horizon: all pending are labelled 0.

Only the vector that was scored is stored, never anything computed later, so a
prediction cannot have seen its own label (``tests/unit/models`` checks this).

The store is small bytes (orjson, feature names written once) meant to live
beside the loan's state in the worker's table.

Examples
--------
>>> pending = PendingLabels(horizon_days=90, spacing_days=7)
>>> pending.add(100, {"dpd": 0.0}), pending.add(103, {"dpd": 3.0}), pending.add(107, {"dpd": 7.0})
(True, False, True)
>>> pending.resolve(150, bad=False)  # nothing has reached its horizon yet
[]
>>> pending.resolve(195, bad=False)  # day 100 + 90 has passed, day 107 + 90 has not
[({'dpd': 0.0}, False)]
>>> pending.resolve(196, bad=True)
[({'dpd': 7.0}, True)]
>>> pending.closed, len(pending)
(True, 0)
>>> PendingLabels.from_bytes(pending.to_bytes()) == pending
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from models.exceptions import CheckpointError

__all__ = ["PendingLabels"]

_FORMAT = 1


@dataclass(slots=True)
class PendingLabels:
    """The unlabelled scoring moments of one loan (see the module docstring)."""

    horizon_days: int = 90
    spacing_days: int = 7
    capacity: int = 16
    closed: bool = False
    days: list[int] = field(default_factory=list)
    vectors: list[dict[str, float]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.days)

    def token(self) -> tuple[int, int, int, bool]:
        """Changes whenever the store does (`add` appends after the last day and may
        drop the first; `resolve` drops from the front or closes), so a caller can
        keep its stored bytes instead of encoding an unchanged store again."""
        days = self.days
        return (len(days), days[0] if days else 0, days[-1] if days else 0, self.closed)

    def add(self, day: int, x: dict[str, float]) -> bool:
        """Keep the vector scored on ``day`` unless one was kept less than ``spacing_days`` ago.

        Returns whether it was kept. A closed store (outcome known) keeps nothing.
        """
        days = self.days
        if self.closed or (days and day < days[-1] + self.spacing_days):
            return False
        if len(days) >= self.capacity:
            del days[0]
            del self.vectors[0]
        days.append(day)
        self.vectors.append(dict(x))
        return True

    def resolve(
        self, today: int, *, bad: bool, ended: bool = False
    ) -> list[tuple[dict[str, float], bool]]:
        """The snapshots whose label is known on ``today``, oldest first, removed from the store.

        Parameters
        ----------
        today
            The loan's clock day (a date ordinal).
        bad
            The loan is in the bad state on ``today`` (90+ DPD or written off).
        ended
            The loan ended well (repaid in full): every pending snapshot is good.
        """
        days, vectors, horizon = self.days, self.vectors, self.horizon_days
        if bad or ended:
            out = [(x, bad and d > today - horizon) for d, x in zip(days, vectors, strict=True)]
            days.clear()
            vectors.clear()
            self.closed = True
            return out
        ripe = 0
        while ripe < len(days) and days[ripe] + horizon <= today:
            ripe += 1
        if not ripe:
            return []
        out = [(x, False) for x in vectors[:ripe]]
        del days[:ripe]
        del vectors[:ripe]
        return out

    def to_bytes(self) -> bytes:
        """Compact bytes: the feature names once, then each snapshot's values in that order."""
        names: list[str] = list(self.vectors[0]) if self.vectors else []
        rows: list[Any] = []
        for day, x in zip(self.days, self.vectors, strict=True):
            if list(x) == names:
                rows.append([day, list(x.values())])
            else:  # a vector with other names (a new feature set) keeps its own
                rows.append([day, list(x.values()), list(x)])
        head = [_FORMAT, self.horizon_days, self.spacing_days, self.capacity, self.closed]
        return orjson.dumps([*head, names, rows])

    @classmethod
    def from_bytes(cls, data: bytes) -> PendingLabels:
        """Read `to_bytes` output back; `CheckpointError` names what is wrong."""
        try:
            fmt, horizon, spacing, capacity, closed, names, rows = orjson.loads(data)
        except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
            raise CheckpointError(f"pending labels bytes are not readable: {exc}") from exc
        if fmt != _FORMAT:
            raise CheckpointError(f"pending labels format {fmt} is not {_FORMAT}")
        store = cls(horizon, spacing, capacity, bool(closed))
        for row in rows:
            keys = row[2] if len(row) > 2 else names
            store.days.append(row[0])
            store.vectors.append(dict(zip(keys, row[1], strict=True)))
        return store
