"""The demo's scoring: hand-built labels and warnings give known recall and precision."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from rich.console import Console

from rules.pack import default_pack
from streams.demo import (
    SIGNAL_RULES,
    UNSCORED_SIGNALS,
    SignalScore,
    WarningTally,
    read_labels,
    score_signals,
    scores_table,
    unscored_counts,
)
from streams.simulate import Signal


def _label(loan: str, *signals: str, seen: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "loan_id": loan,
        "profile": "late_payer",
        "expected_signals": list(signals),
        "signals_first_seen": seen or {s: "2024-03-01" for s in signals},
    }


def _warning(
    loan: str, rule: str, status: str = "open", at: str = "2024-03-03T02:00:00+00:00"
) -> dict[str, Any]:
    return {
        "loan_id": loan,
        "rule_id": rule,
        "status": status,
        "severity": "medium",
        "event_time": at,
    }


def _by_signal(scores: list[SignalScore]) -> dict[str, SignalScore]:
    return {score.signal: score for score in scores}


def test_recall_and_precision_per_signal() -> None:
    labels = [
        _label("L1", "dpd_1", "dpd_30"),
        _label("L2", "dpd_1"),
        _label("L3", "dpd_1", "fund_diversion"),
        _label("L4"),
    ]
    warnings = [
        _warning("L1", "dpd_1"),
        _warning("L1", "dpd_30"),
        _warning("L1", "dpd_1", status="resolved"),
        _warning("L2", "dpd_1"),
        _warning("L2", "dpd_1"),  # an at-least-once repeat counts once
        _warning("L4", "dpd_1"),  # a false alarm
        _warning("L4", "fund_diversion"),  # another
        _warning("L9", "dpd_1"),  # no label: not scored
    ]
    scores = _by_signal(score_signals(labels, warnings))
    dpd1 = scores["dpd_1"]
    assert (dpd1.labelled, dpd1.flagged, dpd1.detected) == (3, 3, 2)
    assert (dpd1.missed, dpd1.false_alarms) == (1, 1)
    assert dpd1.recall == pytest.approx(2 / 3)
    assert dpd1.precision == pytest.approx(2 / 3)
    dpd30 = scores["dpd_30"]
    assert (dpd30.recall, dpd30.precision) == (1.0, 1.0)
    diversion = scores["fund_diversion"]
    assert (diversion.labelled, diversion.flagged, diversion.detected) == (1, 1, 0)
    assert (diversion.recall, diversion.precision) == (0.0, 0.0)
    # Nothing labelled, nothing flagged: no figure rather than a made-up one.
    assert scores["write_off"].recall is None and scores["write_off"].precision is None
    assert list(_by_signal(score_signals(labels, warnings))) == list(SIGNAL_RULES)


def test_only_open_warnings_count() -> None:
    labels = [_label("L1", "dpd_60")]
    scores = _by_signal(score_signals(labels, [_warning("L1", "dpd_60", status="resolved")]))
    assert (scores["dpd_60"].flagged, scores["dpd_60"].recall) == (0, 0.0)


def test_any_rule_of_a_signal_detects_it() -> None:
    labels = [_label("L1", "income_stopped"), _label("L2", "income_stopped")]
    warnings = [_warning("L1", "inflow_stopped"), _warning("L2", "care_salary_stopped")]
    score = _by_signal(score_signals(labels, warnings))["income_stopped"]
    assert (score.detected, score.recall, score.precision) == (2, 1.0, 1.0)


def test_a_custom_mapping_is_honoured() -> None:
    labels = [_label("L1", "refusal")]
    warnings = [_warning("L1", "my_refusal_rule")]
    scores = score_signals(labels, warnings, mapping={"refusal": ("my_refusal_rule",)})
    assert [(s.signal, s.detected, s.recall) for s in scores] == [("refusal", 1, 1.0)]


def test_lag_is_days_from_the_label_to_the_first_warning_in_local_time() -> None:
    labels = [
        _label("L1", "dpd_30", seen={"dpd_30": "2024-03-01"}),
        _label("L2", "dpd_30", seen={"dpd_30": "2024-03-10"}),
        _label("L3", "dpd_30", seen={"dpd_30": "2024-03-10"}),
    ]
    warnings = [
        # 16:30 UTC is 00:30 the next day in Shanghai: 2024-03-04, three days late.
        _warning("L1", "dpd_30", at="2024-03-03T16:30:00+00:00"),
        _warning("L1", "dpd_30", at="2024-03-20T00:00:00+00:00"),  # a later episode
        _warning("L2", "dpd_30", at="2024-03-09T04:00:00+00:00"),  # a day early
        _warning("L3", "dpd_30", at="2024-03-15T04:00:00+00:00"),
    ]
    score = _by_signal(score_signals(labels, warnings))["dpd_30"]
    assert score.median_lag_days == 3.0  # median of (3, -1, 5)


def test_score_json_has_the_figures() -> None:
    score = SignalScore("dpd_1", ("dpd_1",), labelled=3, flagged=4, detected=2)
    assert score.to_json() == {
        "signal": "dpd_1",
        "rules": ["dpd_1"],
        "labelled": 3,
        "flagged": 4,
        "detected": 2,
        "missed": 1,
        "false_alarms": 2,
        "recall": 0.6667,
        "precision": 0.5,
        "median_lag_days": None,
    }


def test_mapping_names_real_signals_and_real_rules_of_the_default_pack() -> None:
    signals = {s.value for s in Signal}
    assert set(SIGNAL_RULES) <= signals
    # Every signal is either scored or listed as unwatched, never both.
    assert set(SIGNAL_RULES) | set(UNSCORED_SIGNALS) == signals
    assert not set(SIGNAL_RULES) & set(UNSCORED_SIGNALS)
    rule_ids = {rule.id for rule in default_pack().rules}
    for signal, rules in SIGNAL_RULES.items():
        assert rules and set(rules) <= rule_ids, (signal, rules)


def test_unscored_counts_list_signals_no_rule_watches() -> None:
    labels = [_label("L1", "dpd_1", "restructured"), _label("L2", "unreachable", "restructured")]
    assert unscored_counts(labels) == {"restructured": 2}  # unreachable: note_unreachable


def test_tally_counts_and_keeps_what_scoring_needs() -> None:
    tally = WarningTally()
    for body in (
        {**_warning("L1", "dpd_1"), "severity": "low", "message": "m", "dpd": 3},
        {**_warning("L1", "dpd_1", status="resolved"), "severity": "low"},
        {**_warning("L2", "dpd_90"), "severity": "critical"},
    ):
        tally.add(orjson.dumps(body))
    tally.add(b"not json")
    assert tally.received == 4 and tally.undecodable == 1
    assert tally.by_status == {"open": 2, "resolved": 1}
    assert tally.by_rule == {"dpd_1": 1, "dpd_90": 1}
    assert tally.to_json()["opened_by_severity"] == {
        "critical": 1,
        "high": 0,
        "medium": 0,
        "low": 1,
        "info": 0,
    }
    assert tally.kept[0] == {
        "loan_id": "L1",
        "rule_id": "dpd_1",
        "status": "open",
        "severity": "low",
        "event_time": "2024-03-03T02:00:00+00:00",
    }
    labels = [_label("L1", "dpd_1"), _label("L2", "dpd_90")]
    scores = _by_signal(score_signals(labels, tally.kept))
    assert scores["dpd_1"].recall == 1.0 and scores["dpd_90"].precision == 1.0


def test_labels_file_round_trip_and_table_renders(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_bytes(b"".join(orjson.dumps(_label(f"L{n}", "dpd_1")) + b"\n" for n in range(3)))
    labels = read_labels(path)
    assert [label["loan_id"] for label in labels] == ["L0", "L1", "L2"]
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(scores_table(score_signals(labels, [_warning("L1", "dpd_1")])))
    text = console.export_text()
    assert "dpd_1" in text and "33%" in text and "100%" in text


def test_simulate_command_line_writes_a_file_and_prints_its_summary(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from streams.cli import app

    events, labels = tmp_path / "events.jsonl", tmp_path / "labels.jsonl"
    result = CliRunner().invoke(
        app,
        ["simulate", "--loans", "5", "--months", "2", "--seed", "3"]
        + ["--to-file", str(events), "--labels", str(labels)],
    )
    assert result.exit_code == 0, result.output
    assert "loan_disbursed" in result.output and "good_payer" in result.output
    assert len(read_labels(labels)) == 5
    assert len(events.read_bytes().splitlines()) > 5


def test_model_rules_are_scored_as_forecasts_of_later_signals() -> None:
    from streams.demo import MODEL_SIGNAL_RULES

    labels = [
        _label("L1", "dpd_30", "dpd_90", seen={"dpd_30": "2026-03-01", "dpd_90": "2026-05-01"}),
        _label("L2"),
    ]
    warnings = [
        _warning("L1", "high_pd", at="2026-02-20T02:00:00+00:00"),
        _warning("L2", "high_pd"),
    ]
    scores = _by_signal(score_signals(labels, warnings, mapping=MODEL_SIGNAL_RULES))
    assert scores["dpd_90"].detected == 1 and scores["dpd_90"].false_alarms == 1
    assert scores["dpd_90"].median_lag_days < 0  # warned before the loan got there
