"""A small simulator book replayed offline: the report agrees with itself.

No services: the book goes to a JSON-lines file and back through the engine.
The checks are invariants that hold by construction, whatever the book:
the DPD rules against a 60+ DPD outcome, paging against its severities,
replays against themselves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from models.features import PD_FEATURES
from models.hub import HubConfig
from rules.core import Engine
from rules.events import AccountBalance
from rules.pack import default_pack
from rules.policy import load_policy
from rules.workflows import load_workflow_policy
from streams.backtest import (
    BacktestOptions,
    BacktestReport,
    CoreStepper,
    FileHistory,
    Replay,
    SignalFigures,
    WorkerStepper,
    report_json,
    run_backtest,
)
from streams.cli import app
from streams.simulate import BookSpec, LoanBook, write_book


@pytest.fixture(scope="module")
def book_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("backtest") / "book.jsonl"
    write_book(LoanBook(BookSpec(60, 6, 7)), path)
    return path


def backtest(path: Path, options: BacktestOptions | None = None) -> BacktestReport:
    return run_backtest(
        FileHistory(path),
        pack=default_pack(),
        against=None,
        policy=load_policy(),
        workflows=load_workflow_policy(),
        options=options or BacktestOptions(),
    )


@pytest.fixture(scope="module")
def report(book_file: Path) -> BacktestReport:
    return backtest(book_file)


def test_the_book_has_bad_loans_to_judge(report: BacktestReport) -> None:
    run = report.candidate
    assert run.replay.events > 1000 and run.replay.ticks > 0
    assert run.replay.refused == 0 and not report.bad_inputs
    assert run.evaluation.book.loans == 60
    assert run.evaluation.book.bad_loans > 0


def test_every_bad_loan_that_passed_30_dpd_first_is_caught_by_dpd_30(
    report: BacktestReport,
) -> None:
    outcomes = report.candidate.replay.outcomes
    passed = [
        o
        for o in outcomes.values()
        if (bad := o.bad_day(60)) is not None
        and 30 in o.reached
        and timedelta(0) < bad - o.reached[30] <= timedelta(days=90)
    ]
    dpd_30 = report.candidate.evaluation.rules["dpd_30"]
    assert passed and dpd_30.caught == len(passed)
    assert dpd_30.lead_days is not None and dpd_30.lead_days.median == 30  # a tick at each mark


def test_the_rule_that_defines_the_outcome_only_reports_it(report: BacktestReport) -> None:
    dpd_60 = report.candidate.evaluation.rules["dpd_60"]
    assert dpd_60.alerts > 0
    assert (dpd_60.caught, dpd_60.alerted_loans, dpd_60.reports) == (0, 0, dpd_60.alerts)


def test_paging_is_its_severities_together(report: BacktestReport) -> None:
    evaluation = report.candidate.evaluation
    high, critical, paging = (
        evaluation.severities["high"],
        evaluation.severities["critical"],
        evaluation.paging,
    )
    assert paging.alerts == high.alerts + critical.alerts
    assert paging.caught >= max(high.caught, critical.caught)
    assert paging.alerted_loans <= high.alerted_loans + critical.alerted_loans
    assert sum(f.alerts for f in evaluation.rules.values()) == sum(
        f.alerts for f in evaluation.severities.values()
    )


def test_every_share_is_a_share(report: BacktestReport) -> None:
    evaluation = report.candidate.evaluation
    rows: list[SignalFigures] = [
        *evaluation.rules.values(),
        *evaluation.severities.values(),
        evaluation.paging,
    ]
    for f in rows:
        for share in (f.precision, f.recall, f.current_share):
            assert share is None or 0.0 <= share <= 1.0, f
        assert f.hits <= f.judged_loans <= f.alerted_loans
        assert f.caught <= f.bad_loans
        assert f.reports <= f.alerts
        assert f.lead_days is None or 1 <= f.lead_days.p25 <= f.lead_days.p75 <= 90


def test_a_replay_repeats_itself(report: BacktestReport, book_file: Path) -> None:
    again = backtest(book_file)
    first, second = orjson.loads(report_json(report)), orjson.loads(report_json(again))
    for doc in (first, second):
        doc["candidate"]["replay"].pop("elapsed_s")
        doc["candidate"]["replay"].pop("events_per_s")
    assert first == second


def test_with_models_the_pd_thresholds_are_judged(tmp_path: Path) -> None:
    path = tmp_path / "small.jsonl"
    write_book(LoanBook(BookSpec(20, 4, 7)), path)
    options = BacktestOptions(models=HubConfig(), warmup_labels=0, thresholds=(0.2, 0.5))
    found = backtest(path, options)
    thresholds = found.candidate.evaluation.thresholds
    assert set(thresholds) <= {"pd>=0.2", "pd>=0.5"}
    assert thresholds, "an untrained model scores every loan: some threshold opens"
    assert found.candidate.evaluation.book.loans == 20


def test_a_recording_worker_stepper_keeps_each_scored_vector_and_every_label_learned(
    book_file: Path,
) -> None:
    policy = load_policy()
    engine = Engine(default_pack(), policy, load_workflow_policy())
    stepper = WorkerStepper(engine, HubConfig(), 0, record_pd=True)
    scored = 0
    for event in FileHistory(book_file):
        stepper.step(event.loan_id, event, event.event_time)
        if stepper.pd is not None:
            scored += 1
            assert stepper.features is not None and len(stepper.features) == len(PD_FEATURES)
    assert scored > 1000
    learned = stepper.learned
    assert learned and {e.bad for e in learned} == {False, True}
    assert all(len(e.x) == len(PD_FEATURES) for e in learned)
    assert [e.now for e in learned] == sorted(e.now for e in learned)
    plain = WorkerStepper(engine, HubConfig(), 0)
    event = next(iter(FileHistory(book_file)))
    plain.step(event.loan_id, event, event.event_time)
    assert plain.pd is not None and plain.features is None and plain.learned == []


def test_the_command_reports_bad_lines_and_writes_json(book_file: Path, tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    lines = book_file.read_bytes().splitlines()
    history.write_bytes(b"\n".join([lines[0], b"{not json", *lines[1:300]]) + b"\n")
    out = tmp_path / "figures.json"
    pack = tmp_path / "candidate.yaml"
    pack.write_text(
        "pack: {name: candidate, version: 2}\nrules:\n"
        "  - {id: dpd_8, version: 1, description: Eight days late., condition: loan.dpd >= 8,\n"
        "     severity: high, message: late, owner_team: collections}\n"
    )
    result = CliRunner().invoke(
        app, ["backtest", str(history), "--pack", str(pack), "--budget", "50", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "bad line 2" in result.output
    doc = orjson.loads(out.read_bytes())
    assert doc["bad_lines"][0]["line"] == 2
    assert set(doc["candidate"]["rules"]) == {"dpd_8"}
    assert doc["against"]["pack"]["name"] == "default"
    assert doc["candidate"]["replay"]["events"] == 300


def test_a_refused_event_is_counted_and_named_not_raised() -> None:
    """`Event` is a union: an isinstance check on it raised TypeError at the first refusal."""
    engine = Engine(default_pack(), load_policy(), load_workflow_policy())
    unknown = AccountBalance(  # no disbursement seen for its loan
        event_id="b-1",
        loan_id="L-nowhere",
        borrower_id="bw-1",
        event_time=datetime(2024, 3, 1, 12, tzinfo=UTC),
        source="core",
        account="acct-1",
        balance=0,
        currency="CNY",
        schema_version=1,
    )
    result = Replay(CoreStepper(engine), engine).run([unknown])
    assert result.refused == 1
    assert result.refusals == ["b-1: no loan_disbursed seen for loan L-nowhere"]
