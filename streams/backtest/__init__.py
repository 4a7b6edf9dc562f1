"""The backtest: replay an event history offline and judge each signal by what came after.

``loanwatch backtest EVENTS`` (docs/backtest.md). One module per job:
`history` reads a file of events (and says what any history gives), `kafka`
reads a topic between two positions, `replay` runs the events through the
engine with the worker's clock (`event_clock`: one per partition, when asked)
and its models (when asked), `outcomes`
records what happened to each loan, `thresholds` turns the PD score into
signals, `metrics` (pure) turns alerts and outcomes into figures, `command`
runs one or two packs, `report` prints tables and JSON and `store` writes a
run to ClickHouse.
"""

from __future__ import annotations

from streams.backtest.command import BacktestOptions, BacktestReport, PackRun, run_backtest
from streams.backtest.event_clock import EventClock
from streams.backtest.exceptions import BacktestError
from streams.backtest.history import BadInput, BadLine, BadMessage, FileHistory, History
from streams.backtest.kafka import KafkaHistory, PartitionSpan, TopicRange, merge_partitions
from streams.backtest.metrics import (
    Alert,
    BookFigures,
    BudgetView,
    Evaluation,
    SignalFigures,
    Spread,
    Study,
    book_figures,
    budget_view,
    evaluate,
    first_alerts,
    lead_over,
    signal_figures,
)
from streams.backtest.outcomes import LoanOutcome, OutcomeTracker
from streams.backtest.replay import CoreStepper, Learned, Replay, ReplayResult, WorkerStepper
from streams.backtest.report import render, report_json, report_obj
from streams.backtest.store import RunRows, new_run_id, run_rows, store_run
from streams.backtest.thresholds import DEFAULT_THRESHOLDS, ThresholdWatch

__all__ = [
    "DEFAULT_THRESHOLDS",
    "Alert",
    "BacktestError",
    "BacktestOptions",
    "BacktestReport",
    "BadInput",
    "BadLine",
    "BadMessage",
    "BookFigures",
    "BudgetView",
    "CoreStepper",
    "Evaluation",
    "EventClock",
    "FileHistory",
    "History",
    "KafkaHistory",
    "Learned",
    "LoanOutcome",
    "OutcomeTracker",
    "PackRun",
    "PartitionSpan",
    "Replay",
    "ReplayResult",
    "RunRows",
    "SignalFigures",
    "Spread",
    "Study",
    "ThresholdWatch",
    "TopicRange",
    "WorkerStepper",
    "book_figures",
    "budget_view",
    "evaluate",
    "first_alerts",
    "lead_over",
    "merge_partitions",
    "new_run_id",
    "render",
    "report_json",
    "report_obj",
    "run_backtest",
    "run_rows",
    "signal_figures",
    "store_run",
]
