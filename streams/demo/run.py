"""One demo run, step by step: prepare, start, watch, stop and clean up, score, summarise.

The steps are named functions so `run_demo` reads as the list in `streams.demo`'s
docstring; the watching loop is `_Watch`, the simulator thread `_Simulator`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.live import Live

from config import Settings
from streams.demo.grading import (
    MODEL_SIGNAL_RULES,
    SIGNAL_RULES,
    SignalScore,
    WarningTally,
    read_labels,
    score_signals,
    unscored_counts,
)
from streams.demo.kafka_meter import KafkaMeter
from streams.demo.live_view import Progress, render
from streams.demo.worker_process import demo_settings, start_worker, stop_worker
from streams.simulate import SimulationSummary, simulate_command
from streams.topics import ensure_topics

__all__ = ["DemoResult", "run_demo"]


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What one demo run did and how the warnings scored."""

    run_id: str
    stopped: str
    """``settled`` (caught up and quiet), ``time limit``, ``worker exited`` or
    ``simulator failed``."""
    elapsed_s: float
    simulation: SimulationSummary | None
    tally: WarningTally
    scores: list[SignalScore]
    model_scores: list[SignalScore]
    unscored: dict[str, int]
    summary_path: Path
    worker_log: Path
    error: str | None = None

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and self.simulation is not None
            and self.simulation.ok
            and self.stopped in ("settled", "time limit")
        )


@dataclass(frozen=True, slots=True)
class _Run:
    """One run's id, settings and files."""

    run_id: str
    demo: Settings
    data_dir: Path
    labels_path: Path
    summary_path: Path
    log_path: Path
    started: float


@dataclass(frozen=True, slots=True)
class _Book:
    """What the simulator is asked to produce."""

    loans: int
    months: int
    seed: int
    rate: float | None


class _Simulator:
    """The simulator in a thread, stoppable; its summary or failure kept for the run."""

    def __init__(self, run: _Run, book: _Book) -> None:
        self.cancel = threading.Event()
        self.summary: SimulationSummary | None = None
        self.error: str | None = None
        self._run, self._book = run, book
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._simulate, name="demo-simulator", daemon=True)
        self._thread.start()

    def _simulate(self) -> None:
        book, demo = self._book, self._run.demo
        try:
            self.summary = simulate_command(
                demo,
                loans=book.loans,
                months=book.months,
                seed=book.seed,
                rate=book.rate,
                labels_path=self._run.labels_path,
                to_file=None,
                topic=demo.topics.events,
                cancel=self.cancel,
            )
        except BaseException as exc:  # reported by the main thread
            self.error = f"{type(exc).__name__}: {exc}"

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """Cancel and wait (at most a minute) for the thread, if it was started."""
        self.cancel.set()
        if self._thread is not None:
            self._thread.join(timeout=60)


class _Watch:
    """The live loop: warnings in, progress measured, until settled, failed or out of time."""

    def __init__(
        self,
        run: _Run,
        meter: KafkaMeter,
        simulator: _Simulator,
        worker: subprocess.Popen[bytes],
        console: Console,
        tally: WarningTally,
        progress: Progress,
    ) -> None:
        self.run, self.meter, self.simulator, self.worker = run, meter, simulator, worker
        self.console, self.tally, self.progress = console, tally, progress

    def until_done(self, quiet_s: float, max_seconds: float) -> tuple[str, str | None]:
        """How the run stopped and the error, if any, showing the view meanwhile."""
        live = (
            Live(
                render(self.tally, self.progress),
                console=self.console,
                auto_refresh=False,
                transient=True,
            )
            if self.console.is_terminal
            else None
        )
        if live is not None:
            live.start()
        try:
            return self._loop(live, quiet_s, max_seconds)
        finally:
            if live is not None:
                live.stop()

    def _loop(
        self, live: Live | None, quiet_s: float, max_seconds: float
    ) -> tuple[str, str | None]:
        tally, progress, started = self.tally, self.progress, self.run.started
        last_warning = last_measure = last_line = time.monotonic()
        sim_done_at: float | None = None
        while True:
            if self.meter.poll(tally, 0.25):
                last_warning = time.monotonic()
            now = time.monotonic()
            if sim_done_at is None and not self.simulator.running():
                sim_done_at = now
                if self.simulator.error is not None:
                    progress.simulator = "FAILED"
                    return "simulator failed", self.simulator.error
                progress.simulator = "done"
            if now - last_measure >= 1.0:
                self.meter.measure(progress)
                last_measure = now
            if self.worker.poll() is not None:
                code = self.worker.returncode
                return (
                    "worker exited",
                    f"the worker exited with code {code}; see {self.run.log_path}",
                )
            if live is not None:
                live.update(render(tally, progress), refresh=True)
            elif now - last_line >= 5.0:
                self.console.print(progress.line(tally), highlight=False)
                last_line = now
            if sim_done_at is not None:
                quiet = now - max(last_warning, sim_done_at)
                # Quiet before the worker judged anything is a slow start, not the end
                # (a loaded machine took 15-19 s to start it): only the time limit ends that.
                judging = progress.events_judged > 0
                if (progress.lag == 0 and quiet >= quiet_s) or (judging and quiet >= 4 * quiet_s):
                    return "settled", None
            if now - started >= max_seconds:
                return "time limit", None


def run_demo(
    settings: Settings,
    *,
    loans: int = 300,
    months: int = 6,
    seed: int = 7,
    rate: float | None = 2_000.0,
    max_seconds: float = 600.0,
    quiet_s: float = 5.0,
    clock_interval_s: float = 0.5,
    out_dir: Path | None = None,
    keep: bool = False,
    start_stack: bool = True,
    console: Console | None = None,
) -> DemoResult:
    """Run the whole demo (see `streams.demo`) and return its result; prints as it goes.

    ``out_dir`` (default ``<state_dir>/demo``) receives ``labels.jsonl``,
    ``summary.json`` and ``worker.log``. Ctrl-C (KeyboardInterrupt) stops the
    worker and cleans up before it propagates.
    """
    console = console or Console()
    run = _prepare(settings, out_dir or settings.state_dir / "demo", clock_interval_s)
    book = _Book(loans, months, seed, rate)
    _start(settings, run, book, start_stack, console)
    tally, progress = WarningTally(), Progress(run.run_id, run.started)
    simulator = _Simulator(run, book)
    worker = start_worker(run.demo, run.log_path)
    meter: KafkaMeter | None = None
    try:
        meter = KafkaMeter(run.demo)
        watch = _Watch(run, meter, simulator, worker, console, tally, progress)
        simulator.start()
        stopped, error = watch.until_done(quiet_s, max_seconds)
        meter.measure(progress)
        meter.poll(tally, 0.5)
    finally:
        code = _stop_and_clean(run, simulator, worker, meter, keep)
    elapsed = time.monotonic() - run.started
    console.print(render(tally, progress))
    console.print(
        f"stopped: {stopped} after {elapsed:.1f}s; worker exit code {code}", highlight=False
    )
    result = _score(settings, run, stopped, elapsed, simulator.summary, tally, error)
    _write_summary(result, run.demo, progress, rate)
    return result


def _prepare(settings: Settings, out: Path, clock_interval_s: float) -> _Run:
    """A fresh run id, with its own settings and files under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    run_id = f"{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    data_dir = out / f"worker-{run_id}"
    return _Run(
        run_id=run_id,
        demo=demo_settings(settings, run_id, data_dir, clock_interval_s),
        data_dir=data_dir,
        labels_path=out / "labels.jsonl",
        summary_path=out / "summary.json",
        log_path=out / "worker.log",
        started=time.monotonic(),
    )


def _start(settings: Settings, run: _Run, book: _Book, start_stack: bool, console: Console) -> None:
    """The local stack (when asked) and the run's topics, then say what runs where."""
    if start_stack:
        from config import stack as local_stack

        with console.status("starting the local stack..."):
            local_stack.up(settings)
    demo = run.demo
    ensure_topics(demo)
    rate = "max" if book.rate is None else f"{book.rate:g}/s"
    console.print(
        f"demo run [bold]{run.run_id}[/]: {book.loans} loans over {book.months} months "
        f"(seed {book.seed}), rate {rate}",
        highlight=False,
    )
    console.print(
        f"topics {demo.topics.events} -> {demo.topics.warnings}; worker log {run.log_path}",
        highlight=False,
    )


def _stop_and_clean(
    run: _Run,
    simulator: _Simulator,
    worker: subprocess.Popen[bytes],
    meter: KafkaMeter | None,
    keep: bool,
) -> int | None:
    """Stop the simulator, then the worker; delete the run's topics and data unless ``keep``.

    The simulator goes first (Ctrl-C, a failure): its producer would recreate
    the events topic about to be deleted. Returns the worker's exit code.
    """
    simulator.stop()
    code = stop_worker(worker)
    if meter is not None:
        meter.close()
        if not keep:
            with contextlib.suppress(Exception):  # best effort
                meter.delete_run_topics()
    if not keep:
        shutil.rmtree(run.data_dir, ignore_errors=True)
    return code


def _score(
    settings: Settings,
    run: _Run,
    stopped: str,
    elapsed: float,
    summary: SimulationSummary | None,
    tally: WarningTally,
    error: str | None,
) -> DemoResult:
    """The warnings received, scored against the labels the simulator wrote."""
    labels = read_labels(run.labels_path) if summary is not None else []
    zone = settings.time_zone
    return DemoResult(
        run_id=run.run_id,
        stopped=stopped,
        elapsed_s=elapsed,
        simulation=summary,
        tally=tally,
        scores=score_signals(labels, tally.kept, zone=zone),
        model_scores=score_signals(labels, tally.kept, mapping=MODEL_SIGNAL_RULES, zone=zone),
        unscored=unscored_counts(labels),
        summary_path=run.summary_path,
        worker_log=run.log_path,
        error=error,
    )


def _write_summary(
    result: DemoResult, demo: Settings, progress: Progress, rate: float | None
) -> None:
    sim = result.simulation
    body: dict[str, Any] = {
        "run_id": result.run_id,
        "ok": result.ok,
        "stopped": result.stopped,
        "error": result.error,
        "elapsed_s": round(result.elapsed_s, 2),
        "topics": {"events": demo.topics.events, "warnings": demo.topics.warnings},
        "book": None,
        "events_judged": progress.events_judged,
        "ticks_judged": progress.ticks_judged,
        "warnings": result.tally.to_json(),
        "signals": [score.to_json() for score in result.scores],
        "model_signals": [score.to_json() for score in result.model_scores],
        "model_signal_rules": {name: list(rules) for name, rules in MODEL_SIGNAL_RULES.items()},
        "unscored_signals": result.unscored,
        "signal_rules": {name: list(rules) for name, rules in SIGNAL_RULES.items()},
    }
    if sim is not None:
        body["book"] = {
            "loans": sim.spec.loans,
            "months": sim.spec.months,
            "seed": sim.spec.seed,
            "start": sim.spec.start.isoformat(),
            "target_rate": rate,
            "events": sim.events,
            "by_profile": sim.by_profile,
            "defaulted": sim.defaulted,
            "delivered": sim.produce.delivered if sim.produce else None,
            "failed": sim.produce.failed if sim.produce else None,
            "events_per_s": round(sim.events_per_s, 1),
            "labels_path": str(sim.labels_path),
        }
    result.summary_path.parent.mkdir(parents=True, exist_ok=True)
    partial = result.summary_path.with_name(result.summary_path.name + ".partial")
    partial.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
    os.replace(partial, result.summary_path)
