"""The backtest: replay an event history offline and judge each signal by what came after.

``loanwatch backtest EVENTS`` (docs/backtest.md). One module per job:
`history` reads the events, `replay` runs them through the engine with the
worker's clock (and its models, when asked), `outcomes` records what happened
to each loan, `thresholds` turns the PD score into signals, `metrics` (pure)
turns alerts and outcomes into figures, `command` runs one or two packs and
`report` prints tables and JSON.
"""

from __future__ import annotations

from streams.backtest.command import BacktestOptions, BacktestReport, PackRun, run_backtest
from streams.backtest.exceptions import BacktestError
from streams.backtest.history import BadLine, FileHistory
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
    signal_figures,
)
from streams.backtest.outcomes import LoanOutcome, OutcomeTracker
from streams.backtest.replay import CoreStepper, Replay, ReplayResult, WorkerStepper
from streams.backtest.report import render, report_json, report_obj
from streams.backtest.thresholds import DEFAULT_THRESHOLDS, ThresholdWatch

__all__ = [
    "DEFAULT_THRESHOLDS",
    "Alert",
    "BacktestError",
    "BacktestOptions",
    "BacktestReport",
    "BadLine",
    "BookFigures",
    "BudgetView",
    "CoreStepper",
    "Evaluation",
    "FileHistory",
    "LoanOutcome",
    "OutcomeTracker",
    "PackRun",
    "Replay",
    "ReplayResult",
    "SignalFigures",
    "Spread",
    "Study",
    "ThresholdWatch",
    "WorkerStepper",
    "book_figures",
    "budget_view",
    "evaluate",
    "render",
    "report_json",
    "report_obj",
    "run_backtest",
    "signal_figures",
]
