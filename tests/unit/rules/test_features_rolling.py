"""Rolling money-flow windows: exact sums from sparse daily bins, bounded memory."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.features import WINDOWS, Features

DAY0 = 739_000  # an ordinal; the features only do arithmetic on days


def fresh(principal: int = 100_000) -> Features:
    return Features.start(disbursed_on=DAY0, principal=principal, currency="CNY")


def move(
    features: Features, day: int, direction: str, amount: int, category: str = "other"
) -> None:
    features.on_transaction(day, day, amount, direction, amount, category, "CNY", "acct-1", 0)


def test_a_day_stays_in_a_window_of_w_days_for_w_days() -> None:
    features = fresh()
    move(features, DAY0, "in", 100)

    seen = {}
    for today in (DAY0, DAY0 + 6, DAY0 + 7, DAY0 + 29, DAY0 + 30, DAY0 + 89, DAY0 + 90):
        features.today = today
        seen[today - DAY0] = (features.inflow_7d, features.inflow_30d, features.inflow_90d)

    assert seen == {
        0: (100, 100, 100),
        6: (100, 100, 100),
        7: (0, 100, 100),
        29: (0, 100, 100),
        30: (0, 0, 100),
        89: (0, 0, 100),
        90: (0, 0, 0),
    }


def test_salary_now_and_before_and_days_since() -> None:
    features = fresh()
    features.today = DAY0 + 100
    for day in (DAY0 + 5, DAY0 + 50, DAY0 + 80):
        move(features, day, "in", 5_000, "salary")
    move(features, DAY0 + 90, "in", 700, "own_account")

    assert features.salary_30d == 5_000  # day 80
    assert features.salary_prev_60d == 5_000  # day 50; day 5 is beyond 90 days
    assert features.days_since_salary == 20
    assert features.inflow_30d == 5_700


def test_payments_to_other_lenders_are_counted_over_thirty_days() -> None:
    features = fresh()
    features.today = DAY0 + 40
    for day in (DAY0 + 5, DAY0 + 15, DAY0 + 38, DAY0 + 39):
        move(features, day, "out", 300, "other_lender")

    assert features.other_lender_payments_30d == 3
    assert features.outflow_90d == 1_200


def test_late_days_land_in_their_own_bin_and_old_ones_are_dropped() -> None:
    features = fresh()
    features.today = DAY0 + 200
    move(features, DAY0 + 200, "out", 10)
    move(features, DAY0 + 195, "out", 20)  # late, inside the 7-day window
    move(features, DAY0 + 150, "out", 40)  # late, inside 90 days only
    move(features, DAY0 + 100, "out", 80)  # beyond every window: ignored

    assert (features.outflow_7d, features.outflow_30d, features.outflow_90d) == (30, 30, 70)
    assert features._days == [DAY0 + 150, DAY0 + 195, DAY0 + 200]


def test_memory_is_bounded_by_the_longest_window() -> None:
    features = fresh()
    for day in range(DAY0, DAY0 + 400):
        features.today = day
        move(features, day, "in", 1)
        move(features, day, "out", 1)

    assert len(features._days) == WINDOWS[-1]
    assert (features.inflow_7d, features.inflow_30d, features.inflow_90d) == (7, 30, 90)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 12),  # days the clock moves first
            st.integers(-10, 0),  # how late the movement is
            st.sampled_from(["in", "out"]),
            st.integers(1, 10_000),
            st.sampled_from(["salary", "other_lender", "merchant"]),
        ),
        max_size=60,
    ),
    st.integers(0, 120),
)
def test_windows_equal_a_brute_force_sum(
    moves: list[tuple[int, int, str, int, str]], rest: int
) -> None:
    features = fresh()
    history: list[tuple[int, str, int, str]] = []
    for forward, lateness, direction, amount, category in moves:
        features.today += forward
        day = features.today + lateness
        move(features, day, direction, amount, category)
        history.append((day, direction, amount, category))
    features.today += rest

    def brute(window: int, direction: str, category: str | None = None) -> int:
        start = features.today - window
        return sum(
            a
            for d, r, a, c in history
            if start < d <= features.today and r == direction and category in (None, c)
        )

    assert features.inflow_7d == brute(7, "in")
    assert features.inflow_30d == brute(30, "in")
    assert features.inflow_90d == brute(90, "in")
    assert features.outflow_7d == brute(7, "out")
    assert features.outflow_30d == brute(30, "out")
    assert features.outflow_90d == brute(90, "out")
    assert features.salary_30d == brute(30, "in", "salary")
    assert features.salary_prev_60d == brute(90, "in", "salary") - brute(30, "in", "salary")
    assert features.other_lender_payments_30d == sum(
        1
        for d, r, _, c in history
        if features.today - 30 < d <= features.today and r == "out" and c == "other_lender"
    )
    assert Features.from_obj(features.to_obj()) == features
