"""`loanwatch backtest`: replay a history with one pack (or two) and judge the warnings.

The CLI parses and prints; `run_backtest` does the work and returns a
`BacktestReport`, so tests and notebooks can call it directly, with any
`History` (a file, a Kafka topic). Each pack gets
its own replay of the same history (the engine's outputs depend on the pack;
the models' scores do not, but they are learned again, so each replay is the
worker it describes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from models.hub import HubConfig
from rules.core import Engine
from rules.events import Event
from rules.pack import RulePack
from rules.policy import Policy
from rules.workflows import WorkflowPolicy
from streams.backtest.history import BadInput, History
from streams.backtest.metrics import BudgetView, Evaluation, Study, budget_view, evaluate
from streams.backtest.replay import CoreStepper, Replay, ReplayResult, Stepper, WorkerStepper
from streams.backtest.thresholds import DEFAULT_THRESHOLDS, ThresholdWatch

__all__ = ["BacktestOptions", "BacktestReport", "PackRun", "run_backtest"]


@dataclass(frozen=True, slots=True)
class BacktestOptions:
    """How to judge: horizon, outcome, models, budget."""

    horizon_days: int = 90
    outcome_dpd: int = 60
    models: HubConfig | None = None
    """The worker's model settings; None replays the rules alone."""
    warmup_labels: int = 200
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    budget: float | None = None
    """Alerts per 1,000 loan-months the on-call staff can act on (the budget view)."""


@dataclass(frozen=True, slots=True)
class PackRun:
    """One pack's replay of the history and its figures."""

    pack: RulePack
    replay: ReplayResult
    evaluation: Evaluation
    budget: BudgetView | None


@dataclass(frozen=True, slots=True)
class BacktestReport:
    """The candidate pack's run and, when asked, the pack it is compared with."""

    source: str
    options: BacktestOptions
    candidate: PackRun
    against: PackRun | None = None
    bad_inputs: tuple[BadInput, ...] = field(default=())
    """The lines or messages of the history that were not events, in source order."""


def _run_pack(
    pack: RulePack,
    policy: Policy,
    workflows: WorkflowPolicy,
    events: Iterable[Event],
    options: BacktestOptions,
    progress: Callable[[int], None] | None,
) -> PackRun:
    engine = Engine(pack, policy, workflows)
    stepper: Stepper
    if options.models is not None:
        stepper = WorkerStepper(engine, options.models, options.warmup_labels)
        watch: ThresholdWatch | None = ThresholdWatch(options.thresholds)
    else:
        stepper, watch = CoreStepper(engine), None
    replay = Replay(stepper, engine, outcome_dpd=options.outcome_dpd, thresholds=watch)
    result = replay.run(events, progress)
    study = Study(
        end=result.last_day or date.min,  # an empty history: no loan, nothing to judge
        horizon_days=options.horizon_days,
        outcome_dpd=options.outcome_dpd,
    )
    evaluation = evaluate(
        result.alerts,
        result.outcomes,
        study,
        rules=[(rule.id, rule.severity) for rule in pack.rules],
        thresholds=result.thresholds,
    )
    budget = (
        budget_view(result.alerts, result.outcomes, evaluation, options.budget)
        if options.budget is not None
        else None
    )
    return PackRun(pack, result, evaluation, budget)


def run_backtest(
    history: History,
    *,
    pack: RulePack,
    against: RulePack | None,
    policy: Policy,
    workflows: WorkflowPolicy,
    options: BacktestOptions,
    progress: Callable[[str, int], None] | None = None,
) -> BacktestReport:
    """Replay ``history`` (read once per pack) with ``pack``, then with ``against``."""

    def told(name: str) -> Callable[[int], None] | None:
        return None if progress is None else (lambda n: progress(name, n))

    candidate = _run_pack(pack, policy, workflows, iter(history), options, told("candidate"))
    bad = tuple(history.bad)
    other = None
    if against is not None:
        other = _run_pack(against, policy, workflows, iter(history), options, told("against"))
    return BacktestReport(history.source, options, candidate, other, bad)
