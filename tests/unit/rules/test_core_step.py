"""The whole step: events and ticks in, warnings, transitions and actions out.

Hand-worked: a 3-installment loan (due the 10th of Feb, Mar, Apr; grace 3 days,
Asia/Shanghai cut-off) whose first installment is missed, then cured.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_loan_builders import Book, at, monthly

import rules.core
from rules.core import Engine, LoanRecord, StepResult, Tick
from rules.events import Event
from rules.pack import default_pack, load_pack_text
from rules.policy import load_policy
from rules.workflows import load_workflow_policy

ENGINE = Engine(default_pack(), load_policy(), load_workflow_policy())
NOW = datetime(2026, 6, 1, tzinfo=UTC)
DUE = date(2026, 2, 10)


def book_events() -> tuple[Book, list[Event]]:
    book = Book("L-7", "bw-7")
    return book, [book.disbursed(at(date(2026, 1, 10)), monthly(DUE, 3, 100_000, 1_500))]


def run(
    items: list[Event | Tick], engine: Engine = ENGINE
) -> tuple[LoanRecord | None, list[tuple[object, StepResult]]]:
    record: LoanRecord | None = None
    out = []
    for item in items:
        record, result = engine.step(record, item, NOW)
        out.append((item, result))
    return record, out


def daily_ticks(loan_id: str, first: date, last: date) -> list[Tick]:
    return [Tick(loan_id, first + timedelta(days=n)) for n in range((last - first).days + 1)]


def opened(results: list[tuple[object, StepResult]]) -> list[tuple[date, str]]:
    return [
        (w.event_time.astimezone(ENGINE.zone).date(), w.rule_id)
        for _, r in results
        for w in r.warnings
        if w.status == "open"
    ]


def test_missed_installment_fires_dpd_1_at_the_cut_off_and_dpd_30_a_month_later() -> None:
    _, events = book_events()
    _, results = run([*events, *daily_ticks("L-7", date(2026, 2, 1), date(2026, 3, 12))])
    fired = opened(results)
    # Due 10 Feb, grace 3 days: 11th-13th in grace; the 14th is DPD 4 (from the due date).
    assert (date(2026, 2, 14), "dpd_1") in fired
    assert (date(2026, 2, 14), "class_downgrade") in fired
    assert "installment_missed" not in [rule for _, rule in fired]  # the first miss is dpd_1's
    assert not [rule for day, rule in fired if day < date(2026, 2, 14)]
    assert (date(2026, 3, 12), "dpd_30") in fired
    assert [rule for _, rule in fired].count("dpd_1") == 1  # the episode stays open and quiet


def test_a_clock_steps_warnings_transitions_and_actions_share_an_id_of_loan_and_day() -> None:
    _, events = book_events()
    _, results = run([*events, *daily_ticks("L-7", date(2026, 2, 1), date(2026, 2, 14))])
    _, cut_off = results[-1]  # 14 Feb, a tick: M0 -> M1, dpd_1 opens, collection starts
    outputs = [*cut_off.warnings, *cut_off.transitions, *cut_off.actions]

    assert cut_off.warnings and cut_off.transitions and cut_off.actions
    assert {o.event_id for o in outputs} == {"clock:2026-02-14:L-7"}
    _, again = run([*events, *daily_ticks("L-7", date(2026, 2, 1), date(2026, 2, 14))])
    assert again[-1][1] == cut_off  # a replay names the step alike


def test_warning_messages_show_money_in_the_loans_currency() -> None:
    _, events = book_events()
    _, results = run([*events, *daily_ticks("L-7", date(2026, 2, 1), date(2026, 2, 14))])
    dpd_1 = next(w for w in results[-1][1].warnings if w.rule_id == "dpd_1")

    assert dpd_1.message == "Past due: 4 days (M1), CNY 1,015.00 overdue"


def test_transitions_carry_the_borrower_state_and_times_of_the_step_like_its_warnings() -> None:
    _, events = book_events()
    _, results = run([*events, *daily_ticks("L-7", date(2026, 2, 1), date(2026, 2, 14))])
    _, cut_off = results[-1]  # 14 Feb: M0 -> M1 and normal -> special_mention, with warnings
    assert {(t.kind, t.from_, t.to) for t in cut_off.transitions} == {
        ("bucket", "M0", "M1"),
        ("klass", "normal", "special_mention"),
    }
    warning = cut_off.warnings[0]
    for t in cut_off.transitions:
        assert (t.borrower_id, t.dpd, t.bucket, t.klass) == (
            "bw-7",
            warning.dpd,
            warning.bucket,
            warning.klass,
        )
        assert (t.event_time, t.produced_at) == (warning.event_time, warning.produced_at)


def test_on_time_loan_raises_no_warning_and_only_routine_actions() -> None:
    book, events = book_events()
    items: list[Event | Tick] = list(events)
    for n in range(3):
        due = date(2026, 2 + n, 10)
        items += daily_ticks("L-7", due - timedelta(days=9), due - timedelta(days=3))
        items.append(book.repay(at(due - timedelta(days=2), 9), 101_500))
    record, results = run(items)
    assert opened(results) == []
    names = {a.name for _, r in results for a in r.actions}
    assert names <= {"pre_due_reminder", "periodic_review"}
    assert record is not None and record.loan.status == "closed"
    assert results[-1][1].wakeup is None  # a closed loan never needs the clock


def test_cure_resolves_the_open_dpd_episode_with_the_same_warning_id() -> None:
    book, events = book_events()
    items: list[Event | Tick] = [*events, *daily_ticks("L-7", date(2026, 2, 11), date(2026, 2, 20))]
    items.append(book.repay(at(date(2026, 2, 21)), 101_500))
    _, results = run(items)
    warnings = [w for _, r in results for w in r.warnings if w.rule_id == "dpd_1"]
    assert [w.status for w in warnings] == ["open", "resolved"]
    assert warnings[0].warning_id == warnings[1].warning_id


def test_a_duplicate_event_changes_nothing_and_outputs_nothing() -> None:
    book, events = book_events()
    pay = book.repay(at(date(2026, 2, 9)), 101_500)
    record, _ = run([*events, pay])
    assert record is not None
    before = record.to_bytes()
    record, result = ENGINE.step(record, pay, NOW)
    assert result.duplicate and result.warnings == () and result.actions == ()
    assert record is not None and record.to_bytes() == before


def test_event_for_an_unknown_loan_is_rejected_with_a_reason() -> None:
    book, _ = book_events()
    record, result = ENGINE.step(None, book.repay(at(DUE), 1_000), NOW)
    assert record is None
    assert result.rejected == "no loan_disbursed seen for loan L-7"


def test_replaying_the_same_inputs_gives_identical_outputs() -> None:
    book, events = book_events()
    items: list[Event | Tick] = [*events, *daily_ticks("L-7", date(2026, 2, 1), date(2026, 4, 30))]
    items.insert(30, book.repay(at(date(2026, 2, 25)), 50_000))
    first = run(items)[1]
    second = run(items)[1]
    assert [r for _, r in first] == [r for _, r in second]


def test_hot_reload_keeps_state_and_open_episodes_and_records_the_new_version() -> None:
    _, events = book_events()
    ticks = daily_ticks("L-7", date(2026, 2, 1), date(2026, 3, 20))
    record, _ = run([*events, *ticks[:20]])  # up to 20 Feb: dpd_1 open
    from importlib import resources

    text = (resources.files("rules") / "packs" / "default.yaml").read_text("utf-8")
    bumped = load_pack_text(text.replace("version: 1", "version: 2", 1), source="bumped.yaml")
    assert bumped.digest != ENGINE.pack.digest
    engine = ENGINE.with_pack(bumped)
    results = []
    for tick in ticks[20:]:
        record, result = engine.step(record, tick, NOW)
        results.append((tick, result))
    fired = opened(results)
    assert "dpd_1" not in [rule for _, rule in fired]  # still the same open episode
    dpd_30 = [w for _, r in results for w in r.warnings if w.rule_id == "dpd_30"]
    assert dpd_30 and dpd_30[0].pack_digest == bumped.digest


def test_record_round_trips_through_bytes_mid_episode() -> None:
    _, events = book_events()
    record, _ = run([*events, *daily_ticks("L-7", date(2026, 2, 1), date(2026, 2, 20))])
    assert record is not None
    again = LoanRecord.from_bytes(record.to_bytes())
    assert again == record
    assert len(record.to_bytes()) <= 4096


@settings(max_examples=40, deadline=None)
@given(
    pays=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=100), st.integers(min_value=1, max_value=120_000)
        ),
        max_size=6,
    ),
    dupes=st.lists(st.integers(min_value=0, max_value=10), max_size=3),
)
def test_duplicated_inputs_never_change_the_outputs(
    pays: list[tuple[int, int]], dupes: list[int]
) -> None:
    book, events = book_events()
    items: list[Event | Tick] = list(events)
    for offset, amount in sorted(pays):
        day = date(2026, 1, 20) + timedelta(days=offset)
        items.append(Tick("L-7", day))
        items.append(book.repay(at(day, 12), amount))
    clean = [r for _, r in run(items)[1]]
    noisy_items: list[Event | Tick] = []
    for index, item in enumerate(items):
        noisy_items.append(item)
        if not isinstance(item, Tick):
            noisy_items.extend([item] * dupes.count(index))  # redelivered right after itself
    noisy = [r for _, r in run(noisy_items)[1] if not r.duplicate]
    strip = [replace(r, wakeup=None) for r in clean]
    assert [replace(r, wakeup=None) for r in noisy] == strip


def test_the_next_wakeup_is_always_after_the_day_just_judged() -> None:
    book, events = book_events()
    items: list[Event | Tick] = [*events, *daily_ticks("L-7", date(2026, 1, 11), date(2026, 5, 30))]
    items.insert(40, book.repay(at(date(2026, 2, 25)), 60_000))
    for item, result in run(items)[1]:
        day = item.on if isinstance(item, Tick) else ENGINE.local_day(item.event_time)
        assert result.wakeup is None or result.wakeup > day, (item, result.wakeup)
        assert result.clamped_wakeup is None, (item, result.clamped_wakeup)


def test_a_wakeup_on_a_day_already_judged_is_moved_to_the_next_day_and_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, events = book_events()
    record, _ = run(events)
    asked = date(2026, 1, 25)
    monkeypatch.setattr(rules.core, "next_wakeup", lambda loan, policy: asked)
    for day, expected in ((date(2026, 1, 25), asked), (date(2026, 1, 26), asked)):
        record, result = ENGINE.step(record, Tick("L-7", day), NOW)
        assert result.wakeup == day + timedelta(days=1)
        assert result.clamped_wakeup == expected
    record, result = ENGINE.step(record, Tick("L-7", date(2026, 1, 24)), NOW)
    assert result.wakeup == asked and result.clamped_wakeup is None  # a later day is kept


def _labelled_stream(*, label: bool) -> tuple[list[Event | Tick], int]:
    """A loan that misses its first installment and gets two notes; the first note is
    labelled on 20 Feb (or, with ``label=False``, the clock ticks that day instead).
    Returns the items and the index of the label (or tick)."""
    book, events = book_events()
    items: list[Event | Tick] = [*events, *daily_ticks("L-7", date(2026, 2, 11), date(2026, 2, 16))]
    first = book.note(at(date(2026, 2, 16), 15))
    items.append(first)
    where = len(items)
    made = book.label(at(date(2026, 2, 20), 9), first, "hardship")  # made either way: same ids
    items.append(made if label else Tick("L-7", date(2026, 2, 20)))
    items += daily_ticks("L-7", date(2026, 2, 21), date(2026, 3, 14))
    items.append(book.note(at(date(2026, 3, 14), 16), (date(2026, 3, 20), 50_000)))
    items.append(book.repay(at(date(2026, 3, 20), 12), 203_000))
    return items, where


def _outputs(result: StepResult) -> tuple[object, ...]:
    return (
        tuple((w.warning_id, w.status, w.rule_id, w.episode) for w in result.warnings),
        result.transitions,
        tuple((a.action_id, a.name) for a in result.actions),
        result.wakeup,
    )


def test_a_note_label_is_accepted_and_changes_nothing_a_tick_that_day_would_not() -> None:
    with_label, where = _labelled_stream(label=True)
    with_tick, _ = _labelled_stream(label=False)

    labelled, labelled_results = run(with_label)
    ticked, ticked_results = run(with_tick)

    result = labelled_results[where][1]
    assert result.rejected is None and not result.duplicate
    # The label's own step judges what the day brings, as the clock would, and no more.
    assert _outputs(result) == _outputs(ticked_results[where][1])
    assert [_outputs(r) for _, r in labelled_results[where + 1 :]] == [
        _outputs(r) for _, r in ticked_results[where + 1 :]
    ]
    assert labelled is not None and ticked is not None
    for name in ("dpd", "max_dpd", "bucket", "klass", "outstanding_principal", "promises_broken"):
        assert getattr(labelled.loan, name) == getattr(ticked.loan, name), name


def test_no_rule_of_the_default_pack_fires_on_a_note_label() -> None:
    # Every event rule of the pack names the event types it is for; none names the label.
    plan = ENGINE._plan_for("note_labelled")
    assert {rule.kind for rule, *_ in plan.items} == {"state"}


def test_a_redelivered_note_label_is_a_duplicate() -> None:
    items, where = _labelled_stream(label=True)
    record, _ = run(items[: where + 1])
    assert record is not None
    before = record.to_bytes()

    record, result = ENGINE.step(record, items[where], NOW)

    assert result.duplicate and result.warnings == () and result.actions == ()
    assert record is not None and record.to_bytes() == before


def test_a_note_label_for_an_unknown_loan_or_far_behind_the_loan_is_rejected() -> None:
    book, events = book_events()
    note = book.note(at(date(2026, 1, 12)))
    _, result = ENGINE.step(None, book.label(at(date(2026, 1, 13)), note), NOW)
    assert result.rejected == "no loan_disbursed seen for loan L-7"

    record, _ = run([*events, note, Tick("L-7", date(2026, 2, 1))])
    _, result = ENGINE.step(record, book.label(at(date(2026, 1, 13)), note), NOW)
    assert result.rejected is not None
    assert result.rejected.startswith("note_labelled at 2026-01-13T10:00:00+08:00 is 18 days")


def test_a_first_installment_never_paid_is_a_first_payment_default_at_30_days() -> None:
    book, events = book_events()
    items: list[Event | Tick] = [*events, *daily_ticks("L-7", date(2026, 2, 1), date(2026, 3, 20))]
    items.append(book.repay(at(date(2026, 3, 21)), 203_000))  # both installments due by then
    _, results = run(items)
    fired = opened(results)
    # Due 10 Feb, never paid: DPD 30 on 12 Mar (as dpd_30), and the first installment
    # is the oldest unpaid one, so it is a first payment default that same day.
    assert [day for day, rule in fired if rule == "first_payment_default"] == [date(2026, 3, 12)]
    fpd = [w for _, r in results for w in r.warnings if w.rule_id == "first_payment_default"]
    assert [(w.status, w.severity, w.owner_team) for w in fpd] == [
        ("open", "critical", "fraud"),
        ("resolved", "critical", "fraud"),  # caught up on 21 Mar
    ]
    assert fpd[0].event_time.astimezone(ENGINE.zone).date() == date(2026, 3, 12)
    assert fpd[1].event_time.astimezone(ENGINE.zone).date() == date(2026, 3, 21)
    reviews = [a for _, r in results for a in r.actions if ("focus", "first_payment") in a.params]
    assert [(a.kind, a.due_on) for a in reviews] == [("review", date(2026, 3, 12))]


def test_a_loan_that_paid_its_first_installment_is_no_first_payment_default() -> None:
    book, events = book_events()
    items: list[Event | Tick] = [*events, book.repay(at(date(2026, 2, 9)), 101_500)]
    items += daily_ticks("L-7", date(2026, 2, 10), date(2026, 4, 20))  # the 2nd never paid
    _, results = run(items)
    fired = opened(results)
    assert (date(2026, 4, 9), "dpd_30") in fired  # due 10 Mar, 30 days late on 9 Apr
    assert "first_payment_default" not in {rule for _, rule in fired}


def test_a_reversed_repayment_warns_collections_once_per_cooldown() -> None:
    book, events = book_events()
    first = book.repay(at(date(2026, 2, 5)), 101_500)
    second = book.repay(at(date(2026, 2, 7)), 101_500)  # early: pays ahead into March
    items: list[Event | Tick] = [*events, first, second]
    items += [book.reverse(at(date(2026, 2, 8)), second), book.reverse(at(date(2026, 2, 9)), first)]
    _, results = run(items)
    reversed_ = [
        (w.event_time.astimezone(ENGINE.zone).date(), w.status, w.owner_team)
        for _, r in results
        for w in r.warnings
        if w.rule_id == "repayment_reversed"
    ]
    # Two reversals a day apart: one warning, the second inside the 30-day cooldown.
    assert reversed_ == [(date(2026, 2, 8), "open", "collections")]


def test_an_event_dated_beyond_the_clock_and_lead_is_refused_and_changes_nothing() -> None:
    book, events = book_events()
    record, _ = run(events)
    assert record is not None
    before = record.to_bytes()
    lead = ENGINE.policy.max_lead
    late_typo = book.repay(NOW + lead + timedelta(minutes=1), 101_500)

    after, result = ENGINE.step(record, late_typo, NOW)

    assert result.rejected_field == "event_time"
    assert result.rejected is not None and "ahead of the worker's clock" in result.rejected
    assert f"more than {ENGINE.policy.max_event_lead_hours} hours ahead" in result.rejected
    assert (result.warnings, result.transitions, result.actions) == ((), (), ())
    assert after is record and record.to_bytes() == before


def test_an_event_within_the_lead_is_judged() -> None:
    book, events = book_events()
    record, _ = run(events)
    soon = book.repay(NOW + ENGINE.policy.max_lead, 101_500)

    _, result = ENGINE.step(record, soon, NOW)

    assert result.rejected is None


def test_a_disbursement_dated_beyond_the_lead_starts_no_loan() -> None:
    book = Book("L-8", "bw-8")
    ahead = NOW + timedelta(days=400)
    event = book.disbursed(ahead, monthly(ahead.date() + timedelta(days=30), 3, 1_000, 10))

    record, result = ENGINE.step(None, event, NOW)

    assert record is None and result.rejected_field == "event_time"


def test_a_tick_beyond_the_lead_is_refused_and_ages_nothing() -> None:
    record, _ = run(book_events()[1])
    assert record is not None
    before = record.to_bytes()

    _, result = ENGINE.step(record, Tick("L-7", (NOW + timedelta(days=2)).date()), NOW)

    assert result.rejected is not None and record.to_bytes() == before


def test_each_further_missed_installment_opens_an_episode_and_all_stay_open_until_cured() -> None:
    """Keyed by the count of missed installments: a new key adds an episode, it does
    not resolve the one before while the loan stays late."""
    book, events = book_events()
    items: list[Event | Tick] = [*events, *daily_ticks("L-7", date(2026, 2, 1), date(2026, 4, 20))]
    items.append(book.repay(at(date(2026, 4, 21)), 3 * 101_500))
    _, results = run(items)
    missed = [
        (w.event_time.astimezone(ENGINE.zone).date(), w.status, w.episode_key)
        for _, r in results
        for w in r.warnings
        if w.rule_id == "installment_missed"
    ]
    assert missed == [
        (date(2026, 3, 14), "open", "2"),
        (date(2026, 4, 14), "open", "3"),
        (date(2026, 4, 21), "resolved", "2"),
        (date(2026, 4, 21), "resolved", "3"),
    ]


def test_the_special_mention_episode_stays_open_past_90_days_until_the_loan_is_normal() -> None:
    book, events = book_events()
    ticks = daily_ticks("L-7", date(2026, 2, 1), date(2026, 5, 20))
    _, results = run([*events, *ticks])
    downgrades = [
        (w.status, w.episode_key)
        for _, r in results
        for w in r.warnings
        if w.rule_id == "class_downgrade"
    ]
    assert downgrades == [("open", "special_mention"), ("open", "substandard")]


def test_a_resolved_warning_says_why_it_ended_and_where_the_loan_stands() -> None:
    book, events = book_events()
    items: list[Event | Tick] = [*events, *daily_ticks("L-7", date(2026, 2, 11), date(2026, 2, 20))]
    items.append(book.repay(at(date(2026, 2, 21)), 101_500))
    _, results = run(items)
    [resolved] = [
        w for _, r in results for w in r.warnings if w.rule_id == "dpd_1" and w.status == "resolved"
    ]
    # Cured, but back to normal only after three installments in time: special mention.
    assert resolved.message == (
        "Resolved dpd_1: loan.dpd == 0 holds (DPD 0, M0, class special_mention)"
    )


def test_a_warning_resolved_by_a_new_episode_key_names_the_key() -> None:
    _, events = book_events()
    record, _ = run(events)
    moved = []
    for tick in daily_ticks("L-7", date(2026, 2, 1), date(2026, 12, 31)):
        now = datetime.combine(tick.on, datetime.min.time(), tzinfo=UTC)  # the clock's own day
        record, result = ENGINE.step(record, tick, now)
        moved += [
            w.message
            for w in result.warnings
            if w.rule_id == "non_performing" and w.status == "resolved"
        ]
    assert moved and moved[0].startswith("Resolved non_performing: now loan.klass = doubtful")
