"""The reports' pure parts: the catalogue in both languages, periods and their options."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from reports import ReportError
from reports.period import Period, default_day, default_month, parse_day, parse_month
from reports.text import CATALOGUE

ZONE = ZoneInfo("Asia/Shanghai")


def test_every_string_has_both_languages_and_the_chinese_is_not_the_english() -> None:
    for key, (english, chinese) in CATALOGUE.items():
        assert english.strip() and chinese.strip(), key
        if not key.startswith("col.") or "AUC" not in english and "Brier" not in english:
            assert english != chinese, key


def test_a_monthly_period_ends_at_the_lenders_midnight_in_utc() -> None:
    period = Period.monthly(parse_month("2026-12"), ZONE)
    assert (period.first_day, period.last_day) == (date(2026, 12, 1), date(2026, 12, 31))
    assert (period.starts, period.ends) == ("2026-11-30 16:00:00", "2026-12-31 16:00:00")
    assert period.previous_month_end == date(2026, 11, 30)


def test_defaults_are_yesterday_and_last_month_in_the_lenders_zone() -> None:
    just_after_midnight = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # Dec 1, 00:30 Shanghai
    assert default_day(just_after_midnight, ZONE) == date(2026, 11, 30)
    assert default_month(just_after_midnight, ZONE) == date(2026, 11, 1)


@pytest.mark.parametrize(
    ("parse", "text", "option"),
    [(parse_day, "2026-13-01", "--day"), (parse_month, "2026/11", "--month")],
)
def test_a_bad_period_names_its_option(parse: object, text: str, option: str) -> None:
    with pytest.raises(ReportError, match=option):
        parse(text)  # type: ignore[operator]
