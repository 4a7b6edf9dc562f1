"""A history through the engine, offline, as the worker's event clock would run it.

Before each event, every loan whose wake-up day (`rules.clock.DueIndex`) has
come by that event's local day gets a `Tick` for that day, day by day, as
`bench/core.py` and the worker's event clock do (`streams.backtest.event_clock`):
one clock for the whole history by default, or, given ``partitions``, one per
Kafka partition as the worker runs it (the integration tests' expected outputs
and `bench/stream.py`'s steps per event are replayed so). ``now`` for a step is
the item's own time (the event's time, or the start of the tick's day), so a
replay never reads the wall clock and the same history gives the same figures;
a caller that must judge as a live worker would passes one fixed ``now``.

Two steppers: `CoreStepper` calls `Engine.step` on records kept in a dict (the
pure core, as fast as it goes); `WorkerStepper` goes through the worker's own
`streams.judging.Runtime` with one partition's models (`streams.scoring`), so
rules that read ``model.*`` see the scores the worker would give them, and the
PD score of every step feeds the threshold signals. Asked to
(``record_pd=True``), it also keeps what a batch learner needs to be judged
beside the online PD on the same question: the feature vector each step's PD
scored (`WorkerStepper.features`) and every labelled snapshot the hub learned,
with when (`WorkerStepper.learned`), in `models.features.PD_FEATURES` order.
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Protocol

from models.features import PD_FEATURES, pd_features
from models.hub import HubConfig, ModelHub
from models.labels import PendingLabels
from rules.core import Engine, StepResult, Tick
from rules.events import Event
from rules.loan import LoanState
from rules.scoring import ScoreCard
from streams.backtest.event_clock import EventClock
from streams.backtest.metrics import Alert
from streams.backtest.outcomes import LoanOutcome, OutcomeTracker
from streams.backtest.thresholds import ThresholdWatch
from streams.judging import Runtime
from streams.scoring import PartitionHub, PartitionModels

__all__ = ["CoreStepper", "Learned", "Replay", "ReplayResult", "Stepper", "WorkerStepper"]

OUTCOME_MARKS = (30, 60, 90)
"""DPD marks whose first day every replay records (the outcome DPD is added)."""
_KEPT_REFUSALS = 20
_NO_CHECKPOINT = 1 << 62
"""Steps between model checkpoints: a replay never restarts, so it never writes one."""


class Stepper(Protocol):
    """One loan's step, wherever its record lives (the replay's clock keeps the wake-ups)."""

    pd: float | None
    """The PD the last step's scorer gave (None: no models, or not trained yet)."""

    def step(
        self, loan_id: str, item: Event | Tick, now: datetime
    ) -> tuple[LoanState | None, StepResult]: ...


class CoreStepper:
    """`Engine.step` on records in a dict: the pure core, no models."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pd: float | None = None
        self._records: dict[str, Any] = {}

    def step(
        self, loan_id: str, item: Event | Tick, now: datetime
    ) -> tuple[LoanState | None, StepResult]:
        record, result = self.engine.step(self._records.get(loan_id), item, now)
        if record is None or result.rejected or result.duplicate:
            return None, result
        self._records[loan_id] = record
        return record.loan, result


def _vector(x: dict[str, float]) -> tuple[float, ...]:
    return tuple(x[name] for name in PD_FEATURES)


@dataclass(frozen=True, slots=True)
class Learned:
    """A PD snapshot the hub learned from: when, its vector (`PD_FEATURES` order), its label."""

    now: datetime
    x: tuple[float, ...]
    bad: bool


class _LearningHub(ModelHub):
    """The worker's hub, logging every example it learns, in the order it learns them."""

    def __init__(self, config: HubConfig, log: list[Learned]) -> None:
        super().__init__(config)
        self.log = log

    def learn_pd(self, examples: list[tuple[dict[str, float], bool]], *, now: datetime) -> int:
        self.log.extend(Learned(now, _vector(x), bool(y)) for x, y in examples)
        return super().learn_pd(examples, now=now)


class _RecordingModels(PartitionModels):
    """The worker's models, remembering the PD each step was given (and, asked to, the
    vector it scored and the examples learned)."""

    pd: float | None = None
    features: tuple[float, ...] | None = None

    def __init__(self, config: HubConfig, warmup_labels: int, *, record_pd: bool) -> None:
        super().__init__({}, config, _NO_CHECKPOINT, warmup_labels)
        self.learned: list[Learned] | None = [] if record_pd else None

    def slot(self, partition: int) -> PartitionHub:
        if self.learned is not None and partition not in self._slots:
            self._slots[partition] = PartitionHub(_LearningHub(self._config, self.learned))
        return super().slot(partition)

    def scorer(self, partition: int, labels: PendingLabels, now: datetime) -> Any:
        inner = super().scorer(partition, labels, now)
        record = self.learned is not None

        def score(loan: LoanState, event: Event | None) -> ScoreCard:
            card: ScoreCard = inner(loan, event)
            self.pd = card.values.get("pd")
            if record:  # the hub's own feature function, on the state it just scored
                self.features = _vector(pd_features(loan))
            return card

        return score


class WorkerStepper:
    """The worker's `Runtime.judge` with one partition's models; rows kept in a dict."""

    _PARTITION = 0

    def __init__(
        self, engine: Engine, config: HubConfig, warmup_labels: int, *, record_pd: bool = False
    ) -> None:
        self._models = _RecordingModels(config, warmup_labels, record_pd=record_pd)
        self._runtime = Runtime(engine, engine.zone, models=self._models)
        self._runtime.cache(1 << 30)
        self._rows: dict[bytes, bytes] = {}
        self.pd: float | None = None
        self.features: tuple[float, ...] | None = None
        """The vector the last step's PD scored (``record_pd`` only)."""

    @property
    def learned(self) -> list[Learned]:
        """Every labelled snapshot the PD learned, in order (``record_pd`` only, else empty)."""
        return self._models.learned or []

    def step(
        self, loan_id: str, item: Event | Tick, now: datetime
    ) -> tuple[LoanState | None, StepResult]:
        key = loan_id.encode()
        self._models.pd = self._models.features = None
        verdict = self._runtime.judge(key, self._rows.get(key), self._PARTITION, item, now)
        self.pd, self.features = self._models.pd, self._models.features
        if verdict.row is None or verdict.record is None:
            return None, verdict.result
        self._rows[key] = verdict.row
        self._runtime.stored(key, self._PARTITION, verdict)
        return verdict.record.loan, verdict.result


@dataclass
class ReplayResult:
    """What a replay saw: alerts, outcomes and counts."""

    alerts: list[Alert] = field(default_factory=list)
    thresholds: list[Alert] = field(default_factory=list)
    outcomes: dict[str, LoanOutcome] = field(default_factory=dict)
    first_day: date | None = None
    last_day: date | None = None
    events: int = 0
    ticks: int = 0
    refused: int = 0
    refusals: list[str] = field(default_factory=list)
    """The first few refusals, as '<event id or tick>: <reason>'."""
    duplicates: int = 0
    drift_warnings: int = 0
    elapsed_s: float = 0.0

    @property
    def steps_per_s(self) -> float:
        return (self.events + self.ticks) / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s else 0.0


class Replay:
    """Runs events through a stepper with clock ticks, collecting alerts and outcomes.

    ``partitions``: one clock per Kafka partition, as the worker's (default: one for
    the whole history). ``now``: the time every step is judged at, as a live
    worker's clock would be (default: each item's own time).
    """

    def __init__(
        self,
        stepper: Stepper,
        engine: Engine,
        *,
        outcome_dpd: int = 60,
        thresholds: ThresholdWatch | None = None,
        partitions: int | None = None,
        now: datetime | None = None,
    ) -> None:
        self.stepper = stepper
        self.zone = engine.zone
        self.clock = EventClock(engine.zone, partitions)
        self.now = now
        self.tracker = OutcomeTracker((*OUTCOME_MARKS, outcome_dpd))
        self.watch = thresholds
        self.result = ReplayResult()

    def run(
        self, events: Iterable[Event], progress: Callable[[int], None] | None = None
    ) -> ReplayResult:
        """Replay ``events`` in their order; ``progress(events so far)`` every 1,000 events."""
        out = self.result
        started = clock.perf_counter()
        for item, _ in self.steps(events):
            if progress is not None and not isinstance(item, Tick) and not out.events % 1000:
                progress(out.events)
        out.last_day = day = self.clock.last_day
        out.elapsed_s = clock.perf_counter() - started
        if day is not None:
            out.outcomes = self.tracker.outcomes(day)
        if progress is not None:
            progress(out.events)
        return out

    def steps(self, events: Iterable[Event]) -> Iterator[tuple[Event | Tick, StepResult]]:
        """Each event after the ticks its clock owes before it, as stepped, with its result.

        Counted and collected like `run` does (alerts, outcomes), as they are taken;
        `run` is this, taken whole, plus the closing figures.
        """
        out = self.result
        for event in events:
            if out.first_day is None:
                out.first_day = self.clock.day_of(event)
            for tick in self.clock.owed(event):  # each loan whose wake-up day came, each day
                out.ticks += 1
                now = self.now or datetime.combine(tick.on, time(0), tzinfo=self.zone)
                yield tick, self._step(tick.loan_id, tick, now)
            out.events += 1
            yield event, self._step(event.loan_id, event, self.now or event.event_time)

    def _step(self, loan_id: str, item: Event | Tick, now: datetime) -> StepResult:
        out = self.result
        loan, result = self.stepper.step(loan_id, item, now)
        if result.duplicate:
            out.duplicates += 1
        if loan is None:
            if result.rejected:
                out.refused += 1
                if len(out.refusals) < _KEPT_REFUSALS:
                    what = f"tick {item.on}" if isinstance(item, Tick) else item.event_id
                    out.refusals.append(f"{what}: {result.rejected}")
            return result
        self.clock.woke(loan_id, result.wakeup)
        day = date.fromordinal(loan.clock_day)
        dpd = loan.dpd
        self.tracker.see(loan_id, day, dpd=dpd, status=loan.status)
        for warning in result.warnings:
            if warning.status != "open":
                continue
            if warning.loan_id != loan_id:  # a model drift, about a partition
                out.drift_warnings += 1
                continue
            alert = Alert(loan_id, warning.rule_id, warning.severity, day, warning.dpd)
            out.alerts.append(alert)
        if self.watch is not None:
            out.thresholds.extend(self.watch.see(loan_id, day, dpd, self.stepper.pd))
        return result
