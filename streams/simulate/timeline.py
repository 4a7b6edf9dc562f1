"""Simulated time: integer seconds internally, aware datetimes only on the way out.

The generator handles millions of instants, so it keeps them as Unix seconds
(cheap to compare, sort and add) and converts to an aware `datetime` once, when
an event is built. Loans live in China Standard Time, a fixed UTC+08:00 all
year (no daylight saving), so a fixed offset is exact and needs no tz database.

>>> day = local_day(to_seconds(datetime(2024, 3, 1, 23, 30, tzinfo=LOCAL_TZ)))
>>> day_to_date(day), day_start(day) == to_seconds(datetime(2024, 3, 1, tzinfo=LOCAL_TZ))
(datetime.date(2024, 3, 1), True)
>>> add_months(date(2024, 1, 31), 1, 28)
datetime.date(2024, 2, 28)
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Final

__all__ = [
    "DAY",
    "HOUR",
    "LOCAL_TZ",
    "add_months",
    "date_to_day",
    "day_start",
    "day_to_date",
    "local_datetime",
    "local_day",
    "monthly_days",
    "random_time",
    "to_seconds",
    "utc_datetime",
]

DAY: Final = 86_400
HOUR: Final = 3_600
_OFFSET: Final = 8 * HOUR
LOCAL_TZ: Final = timezone(timedelta(seconds=_OFFSET))
"""Asia/Shanghai as a fixed offset (+08:00): exact, since China has no daylight saving."""

_EPOCH: Final = date(1970, 1, 1)
_EPOCH_ORDINAL: Final = _EPOCH.toordinal()


def to_seconds(moment: datetime) -> int:
    """Unix seconds of an aware datetime."""
    return int(moment.timestamp())


def local_day(ts: int) -> int:
    """Days since 1970-01-01 of the local (UTC+8) calendar day containing ``ts``."""
    return (ts + _OFFSET) // DAY


def day_start(day: int) -> int:
    """Unix seconds of local midnight starting ``day``."""
    return day * DAY - _OFFSET


def day_to_date(day: int) -> date:
    return date.fromordinal(_EPOCH_ORDINAL + day)


def date_to_day(value: date) -> int:
    return value.toordinal() - _EPOCH_ORDINAL


def local_datetime(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, LOCAL_TZ)


def utc_datetime(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def add_months(start: date, months: int, day_of_month: int) -> date:
    """The date ``months`` after ``start``'s month, on ``day_of_month`` (1-28, so it exists)."""
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, day_of_month)


def random_time(rng: random.Random, ws: int, we: int) -> int:
    """A moment in [ws, we) during waking hours, local time."""
    first, last = local_day(ws), local_day(we - 1)
    at = day_start(rng.randint(first, last)) + rng.randint(8 * HOUR, 22 * HOUR)
    return min(max(at, ws), we - 1)


def monthly_days(ws: int, we: int, day_of_month: int) -> list[int]:
    """Local days with the given day of month that touch [ws, we)."""
    first = day_to_date(local_day(ws))
    last = local_day(we - 1)
    found = []
    for k in range(3):
        day = date_to_day(add_months(first, k, day_of_month))
        if local_day(ws) <= day <= last:
            found.append(day)
    return found
