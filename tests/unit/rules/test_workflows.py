"""Reviews, the collection ladder and reminders: each action once, at the right day."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from rules import RulesError
from rules.policy import PolicyError
from rules.workflows import (
    WorkflowState,
    action_id,
    load_workflow_policy,
    parse_workflow_policy,
)

POLICY = load_workflow_policy()
DISBURSED = date(2026, 1, 10)


def run(state: WorkflowState, today: date, **kw: object) -> list[tuple[str, str]]:
    args: dict[str, object] = {
        "dpd": 0,
        "klass": "normal",
        "klass_downgraded": False,
        "next_due": None,
        "active": True,
    }
    args.update(kw)
    return [(kind, name) for kind, name, _ in state.step(today=today, policy=POLICY, **args)]  # type: ignore[arg-type]


def test_first_review_comes_thirty_days_after_disbursement_then_yearly_for_normal_loans() -> None:
    state = WorkflowState()
    state.start(DISBURSED, POLICY)
    assert run(state, DISBURSED + timedelta(days=29)) == []
    assert run(state, DISBURSED + timedelta(days=30)) == [("review", "periodic_review")]
    assert run(state, DISBURSED + timedelta(days=31)) == []
    assert state.next_review == DISBURSED + timedelta(days=30 + 365)


def test_downgrade_brings_the_next_review_forward() -> None:
    state = WorkflowState()
    state.start(DISBURSED, POLICY)
    run(state, DISBURSED + timedelta(days=30))
    day = DISBURSED + timedelta(days=100)
    assert run(state, day, klass="special_mention", klass_downgraded=True, dpd=5) == [
        ("collection_step", "sms_ivr")
    ]
    assert state.next_review == day + timedelta(days=90)


def test_ladder_emits_each_step_once_per_spell_and_restarts_after_cure() -> None:
    state = WorkflowState(next_review=date(2030, 1, 1))
    day = date(2026, 3, 1)
    emitted = []
    for dpd in [1, 2, 7, 8, 9, 31, 45, 61]:
        emitted += run(state, day + timedelta(days=dpd), dpd=dpd)
    assert [name for _, name in emitted] == ["sms_ivr", "phone_call", "agent_call", "field_visit"]
    assert run(state, date(2026, 6, 1), dpd=0) == []
    assert run(state, date(2026, 7, 2), dpd=1) == [("collection_step", "sms_ivr")]


def test_a_jump_past_several_steps_emits_only_the_highest_reached() -> None:
    state = WorkflowState(next_review=date(2030, 1, 1))
    assert run(state, date(2026, 5, 1), dpd=95) == [("collection_step", "outsource_or_legal")]


def test_reminder_goes_out_once_three_days_before_each_due_date() -> None:
    state = WorkflowState(next_review=date(2030, 1, 1))
    due = date(2026, 2, 10)
    assert run(state, date(2026, 2, 6), next_due=due) == []
    assert run(state, date(2026, 2, 7), next_due=due) == [("collection_step", "pre_due_reminder")]
    assert run(state, date(2026, 2, 8), next_due=due) == []
    assert state.next_wakeup(due, POLICY) == date(2030, 1, 1)
    assert state.next_wakeup(date(2026, 3, 10), POLICY) == date(2026, 3, 7)


def test_closed_or_written_off_loans_get_no_actions() -> None:
    state = WorkflowState()
    state.start(DISBURSED, POLICY)
    assert run(state, DISBURSED + timedelta(days=400), dpd=200, active=False) == []


def test_state_round_trips_through_its_persisted_form() -> None:
    state = WorkflowState(date(2026, 5, 1), 2, date(2026, 4, 10))
    assert WorkflowState.from_obj(state.to_obj()) == state
    assert WorkflowState.from_obj(WorkflowState().to_obj()) == WorkflowState()


def test_action_ids_are_deterministic_and_distinct_per_day() -> None:
    a = action_id("L1", "review", "periodic_review", date(2026, 1, 1))
    assert a == action_id("L1", "review", "periodic_review", date(2026, 1, 1))
    assert a != action_id("L1", "review", "periodic_review", date(2026, 1, 2))


def test_ladder_that_does_not_rise_is_rejected_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "wf.yaml"
    bad.write_text(
        "reviews: {first_after_days: 30, cadence_days: {normal: 365, special_mention: 90, "
        "substandard: 30, doubtful: 30, loss: 30}}\n"
        "collection: {reminder_days_before_due: 3, ladder: [{step: a, min_dpd: 5, channel: x}, "
        "{step: b, min_dpd: 5, channel: y}]}\n"
    )
    with pytest.raises(RulesError, match=r"wf.yaml:2: collection: .*strictly increasing"):
        load_workflow_policy(bad)


def test_missing_class_cadence_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "wf.yaml"
    bad.write_text(
        "reviews: {first_after_days: 30, cadence_days: {normal: 365}}\n"
        "collection: {reminder_days_before_due: 3, ladder: [{step: a, min_dpd: 5, channel: x}]}\n"
    )
    with pytest.raises(RulesError, match="missing \\['special_mention'"):
        load_workflow_policy(bad)


def test_a_reminder_window_that_passed_unsent_does_not_keep_waking_the_loan() -> None:
    state = WorkflowState(next_review=date(2030, 1, 1))
    due = date(2026, 2, 10)
    # The loan is late on another installment when this one's reminder day comes.
    assert run(state, date(2026, 2, 8), next_due=due, dpd=20) == [("collection_step", "phone_call")]
    assert state.next_wakeup(due, POLICY) == date(2030, 1, 1)
    # First judged on the due date itself: no reminder, and the window is closed.
    late = WorkflowState(next_review=date(2030, 1, 1))
    assert run(late, due, next_due=due) == []
    assert late.next_wakeup(due, POLICY) == date(2030, 1, 1)


SHIPPED = Path(__file__).resolve().parents[3] / "rules" / "policies" / "workflows.yaml"


@pytest.mark.parametrize(
    ("replacement", "message"),
    [
        # A cadence of 10**21 days made the review date overflow in Engine.step.
        (
            ("normal: 365", "normal: 1000000000000000000000"),
            "wf.yaml:9: reviews.cadence_days.normal: ",
        ),
        (("substandard: 30", "substandard: 4000000"), "less than or equal to 3660"),
        (
            ("first_after_days: 30", "first_after_days: !!int x"),
            "wf.yaml:5: not valid YAML: not a valid !!int",
        ),
        (("min_dpd: 181", "min_dpd: -1"), "wf.yaml:24: collection.ladder.5.min_dpd: "),
    ],
)
def test_a_wrong_workflow_policy_names_the_key_and_its_line(
    replacement: tuple[str, str], message: str
) -> None:
    text = SHIPPED.read_text("utf-8").replace(*replacement)

    with pytest.raises(PolicyError, match="^wf.yaml:") as caught:
        parse_workflow_policy(text, "wf.yaml")

    assert message in str(caught.value)


def test_a_workflow_file_not_in_utf8_is_a_policy_error(tmp_path: Path) -> None:
    latin1 = tmp_path / "wf.yaml"
    latin1.write_bytes("reviews: {first_after_days: 30} # \xe9\n".encode("latin-1"))

    with pytest.raises(PolicyError, match="not UTF-8"):
        load_workflow_policy(latin1)
