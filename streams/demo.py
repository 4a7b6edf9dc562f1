"""`loanwatch demo`: a seeded loan book through a real worker, watched live, scored against truth.

One run:

1. picks a run id and gives the run its own app id, topics (``demo.<run>.*``) and
   worker data folder, so a rerun starts clean and never sees an old run's state;
2. starts a real worker subprocess (``python -m streams.cli worker``) with the
   event clock (``LOANWATCH_WORKER__CLOCK=event``), so simulated months age the
   loans, and a short clock interval;
3. runs the simulator (what `streams.simulate.simulate_command` does, but stoppable
   on Ctrl-C) into the run's events topic, in a thread, writing the ground-truth
   labels beside the run;
4. shows the warnings topic live (a rolling table of the latest warnings, counts
   by rule and by severity, events produced and judged, warnings received) until
   the simulator is done, the worker has caught up and no warning has arrived for
   ``quiet_s`` seconds, or ``max_seconds`` have passed;
5. stops the worker (SIGTERM, then SIGKILL only if it does not stop), deletes the
   run's topics and worker data (unless ``keep``) and scores the warnings against
   the labels: per ground-truth signal, how many labelled loans a matching rule
   flagged (recall) and how many flagged loans had no such label (precision).
   The scores go to ``summary.json``.

Scoring is loan-level: a loan counts as *flagged* for a signal when any of the
signal's rules (`SIGNAL_RULES`) opened a warning on it during the run, and as
*labelled* when its label's ``expected_signals`` holds the signal. The pure
parts (`score_signals`, `WarningTally`) need no Kafka and are unit-tested.

Without a terminal (CI, ``make demo | tee``) the live view becomes a progress
line every few seconds and one final render.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import orjson
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from config import Settings
from config.settings import TopicSettings
from streams.simulate import SimulationSummary, simulate_command
from streams.topics import ensure_topics, ticks_topic

__all__ = [
    "MODEL_SIGNAL_RULES",
    "SIGNAL_RULES",
    "UNSCORED_SIGNALS",
    "DemoResult",
    "SignalScore",
    "WarningTally",
    "demo_settings",
    "read_labels",
    "run_demo",
    "score_signals",
    "scores_table",
    "unscored_counts",
]

SIGNAL_RULES: Final[dict[str, tuple[str, ...]]] = {
    "dpd_1": ("dpd_1",),
    "dpd_30": ("dpd_30",),
    "dpd_60": ("dpd_60",),
    "dpd_90": ("dpd_90",),
    "first_payment_default": ("first_payment_default",),
    "repeated_late": ("late_then_cured",),
    "partial_payment": ("partial_payment", "care_partial_payment"),
    "repayment_reversed": ("repayment_reversed",),
    "third_party_payer": ("third_party_payer",),
    "broken_promise": ("broken_promise",),
    "income_stopped": ("salary_stopped", "inflow_stopped", "care_salary_stopped"),
    "balance_drop": ("balance_drop_before_due",),
    "fund_diversion": ("fund_diversion",),
    "multi_lending": ("multi_lending",),
    "inquiry_surge": ("inquiry_surge",),
    "external_delinquency": ("bureau_delinquency",),
    "lawsuit": ("lawsuit_or_enforcement",),
    "contact_change_near_miss": ("contact_change_near_miss",),
    "hardship": ("note_hardship",),
    "refusal": ("note_refusal",),
    "unreachable": ("note_unreachable",),
    "write_off": ("written_off",),
}
"""Ground-truth signal (docs/simulator.md) -> the rules of rules/packs/default.yaml that detect it.

Mostly one to one. Approximate pairs: ``repeated_late`` (two or more installments
late) is watched by ``late_then_cured`` (late and caught up, twice in a row or
three times), and ``income_stopped`` by the salary and inflow rules, including the
customer-care variant. The DPD rules apply the policy's grace period and the
labels none, so a loan one or two days late may be labelled ``dpd_1`` and never
flagged: that shows as missed, by design.
"""

MODEL_SIGNAL_RULES: Final[dict[str, tuple[str, ...]]] = {
    "dpd_30": ("high_pd",),
    "dpd_90": ("high_pd",),
    "write_off": ("high_pd",),
    "fund_diversion": ("anomalous_event",),
}
"""Ground-truth signals the online models should see coming, and the model rules.

The early-warning PD (``high_pd``) is judged against the loans that later went
30 and 90 days past due or were written off: a negative lag means it warned
before the label. The anomaly rule is judged against fund diversion, the
profile whose money moves are the least like the book's. Scored apart from
``SIGNAL_RULES`` because a model warning is a forecast, not a detection.
"""

UNSCORED_SIGNALS: Final[tuple[str, ...]] = ("restructured",)
"""Signals no rule of the default pack watches.

A restructuring is the lender's own decision, already known to it; the rule that
matters after it (``restructured_late_again``) watches what the borrower does next.
"""

_LATEST: Final = 12
_SEVERITIES: Final = ("critical", "high", "medium", "low", "info")
_SEVERITY_STYLE: Final = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}
_TOPIC_NAMES: Final = TopicSettings.names()


# -- Pure scoring ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignalScore:
    """How well the rules for one ground-truth signal found the loans that showed it."""

    signal: str
    rules: tuple[str, ...]
    labelled: int
    """Loans whose label shows the signal."""
    flagged: int
    """Loans on which one of ``rules`` opened a warning."""
    detected: int
    """Loans both labelled and flagged."""
    median_lag_days: float | None = None
    """Median over detected loans of (day the first matching warning's fact happened
    - day the label says the signal became visible); negative means earlier."""

    @property
    def missed(self) -> int:
        return self.labelled - self.detected

    @property
    def false_alarms(self) -> int:
        return self.flagged - self.detected

    @property
    def recall(self) -> float | None:
        return self.detected / self.labelled if self.labelled else None

    @property
    def precision(self) -> float | None:
        return self.detected / self.flagged if self.flagged else None

    def to_json(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "rules": list(self.rules),
            "labelled": self.labelled,
            "flagged": self.flagged,
            "detected": self.detected,
            "missed": self.missed,
            "false_alarms": self.false_alarms,
            "recall": _round(self.recall),
            "precision": _round(self.precision),
            "median_lag_days": self.median_lag_days,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def read_labels(path: Path) -> list[dict[str, Any]]:
    """The simulator's label file: one JSON object per loan."""
    with path.open("rb") as lines:
        return [orjson.loads(line) for line in lines if line.strip()]


def _local_day(moment: str | None, zone: ZoneInfo) -> date | None:
    if not moment:
        return None
    try:
        return datetime.fromisoformat(moment).astimezone(zone).date()
    except ValueError:
        return None


def _opened(
    warnings: Iterable[Mapping[str, Any]], zone: ZoneInfo
) -> dict[str, dict[str, date | None]]:
    """loan_id -> rule_id -> earliest local day of an opened warning's fact (None if unknown)."""
    out: dict[str, dict[str, date | None]] = {}
    for warning in warnings:
        if warning.get("status") != "open":
            continue
        loan, rule = warning.get("loan_id"), warning.get("rule_id")
        if not isinstance(loan, str) or not isinstance(rule, str):
            continue
        day = _local_day(warning.get("event_time"), zone)
        rules = out.setdefault(loan, {})
        if rule not in rules:
            rules[rule] = day
        else:
            known = rules[rule]
            if day is not None and (known is None or day < known):
                rules[rule] = day
    return out


def score_signals(
    labels: Iterable[Mapping[str, Any]],
    warnings: Iterable[Mapping[str, Any]],
    *,
    mapping: Mapping[str, tuple[str, ...]] = SIGNAL_RULES,
    zone: str = "Asia/Shanghai",
) -> list[SignalScore]:
    """Per signal of ``mapping``: labelled, flagged and detected loans, in mapping order.

    Only loans that have a label are scored; warnings about other loans are
    ignored. Only ``open`` warnings count (a ``resolved`` one closes an episode
    that was already counted). Repeated warnings (at-least-once delivery) count once.
    """
    tz = ZoneInfo(zone)
    by_loan = {str(label["loan_id"]): label for label in labels}
    opened = {loan: rules for loan, rules in _opened(warnings, tz).items() if loan in by_loan}
    scores: list[SignalScore] = []
    for signal_name, rules in mapping.items():
        labelled = {
            loan
            for loan, label in by_loan.items()
            if signal_name in (label.get("expected_signals") or ())
        }
        flagged = {loan for loan, seen in opened.items() if any(rule in seen for rule in rules)}
        detected = labelled & flagged
        lags: list[int] = []
        for loan in detected:
            first_seen = (by_loan[loan].get("signals_first_seen") or {}).get(signal_name)
            days = [d for rule, d in opened[loan].items() if rule in rules and d is not None]
            if first_seen and days:
                lags.append((min(days) - date.fromisoformat(first_seen)).days)
        scores.append(
            SignalScore(
                signal=signal_name,
                rules=tuple(rules),
                labelled=len(labelled),
                flagged=len(flagged),
                detected=len(detected),
                median_lag_days=float(statistics.median(lags)) if lags else None,
            )
        )
    return scores


def unscored_counts(
    labels: Iterable[Mapping[str, Any]], mapping: Mapping[str, tuple[str, ...]] = SIGNAL_RULES
) -> dict[str, int]:
    """Labelled loans per signal that no rule of ``mapping`` watches."""
    counts: Counter[str] = Counter()
    for label in labels:
        for signal_name in label.get("expected_signals") or ():
            if signal_name not in mapping:
                counts[signal_name] += 1
    return dict(sorted(counts.items()))


@dataclass
class WarningTally:
    """Everything the live view and the scores need from the warnings received."""

    received: int = 0
    undecodable: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    by_severity: Counter[str] = field(default_factory=Counter)
    latest: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=_LATEST))
    kept: list[dict[str, Any]] = field(default_factory=list)
    """The fields scoring reads, of every warning received."""

    def add(self, raw: bytes | None) -> None:
        self.received += 1
        try:
            warning = orjson.loads(raw or b"")
        except orjson.JSONDecodeError:
            self.undecodable += 1
            return
        if not isinstance(warning, dict):
            self.undecodable += 1
            return
        status = str(warning.get("status", "?"))
        self.by_status[status] += 1
        if status == "open":
            self.by_rule[str(warning.get("rule_id", "?"))] += 1
            self.by_severity[str(warning.get("severity", "?"))] += 1
        self.latest.append(warning)
        self.kept.append(
            {
                key: warning.get(key)
                for key in ("loan_id", "rule_id", "status", "severity", "event_time")
            }
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "undecodable": self.undecodable,
            "by_status": dict(sorted(self.by_status.items())),
            "opened_by_rule": dict(self.by_rule.most_common()),
            "opened_by_severity": {s: self.by_severity[s] for s in _SEVERITIES},
        }


# -- Rendering ---------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def scores_table(scores: Iterable[SignalScore], title: str | None = None) -> Table:
    """The per-signal recall and precision as a rich table."""
    table = Table(title=title, title_justify="left")
    table.add_column("signal")
    table.add_column("rules", overflow="fold")
    for name in ("labelled", "detected", "missed", "flagged", "false alarms"):
        table.add_column(name, justify="right")
    table.add_column("recall", justify="right")
    table.add_column("precision", justify="right")
    table.add_column("lag d", justify="right")
    for score in scores:
        table.add_row(
            score.signal,
            ", ".join(score.rules),
            str(score.labelled),
            str(score.detected),
            str(score.missed),
            str(score.flagged),
            str(score.false_alarms),
            _pct(score.recall),
            _pct(score.precision),
            "-" if score.median_lag_days is None else f"{score.median_lag_days:+g}",
        )
    return table


@dataclass
class _Progress:
    run_id: str
    started: float
    events_in_topic: int = 0
    events_judged: int = 0
    ticks_judged: int = 0
    lag: int | None = None
    simulator: str = "running"

    def line(self, tally: WarningTally) -> str:
        lag = "?" if self.lag is None else f"{self.lag:,}"
        return (
            f"[{time.monotonic() - self.started:5.1f}s] simulator {self.simulator} | "
            f"events produced {self.events_in_topic:,} judged {self.events_judged:,} "
            f"(lag {lag}) | ticks {self.ticks_judged:,} | warnings received {tally.received:,} "
            f"(open {tally.by_status['open']:,}, resolved {tally.by_status['resolved']:,})"
        )


def _view(tally: WarningTally, progress: _Progress) -> RenderableType:
    latest = Table(title="latest warnings", title_justify="left", expand=True)
    latest.add_column("day", no_wrap=True)
    latest.add_column("loan", no_wrap=True)
    latest.add_column("rule", no_wrap=True)
    latest.add_column("severity", no_wrap=True)
    latest.add_column("status", no_wrap=True)
    latest.add_column("DPD", justify="right")
    latest.add_column("bucket")
    latest.add_column("message", overflow="ellipsis", no_wrap=True, ratio=1)
    for warning in reversed(tally.latest):
        severity = str(warning.get("severity", "?"))
        latest.add_row(
            str(warning.get("event_time") or "")[:10],
            str(warning.get("loan_id", "?")),
            str(warning.get("rule_id", "?")),
            Text(severity, style=_SEVERITY_STYLE.get(severity, "")),
            str(warning.get("status", "?")),
            str(warning.get("dpd", "")),
            str(warning.get("bucket", "")),
            str(warning.get("message", "")),
        )
    rules = Table("rule", "opened", title="by rule", title_justify="left")
    for rule, count in tally.by_rule.most_common(14):
        rules.add_row(rule, f"{count:,}")
    severities = Table("severity", "opened", title="by severity", title_justify="left")
    for severity in _SEVERITIES:
        severities.add_row(
            Text(severity, style=_SEVERITY_STYLE[severity]), f"{tally.by_severity[severity]:,}"
        )
    counts = Table.grid(padding=(0, 4))
    counts.add_row(rules, severities)
    return Group(Text(progress.line(tally), style="bold"), latest, counts)


# -- The run -----------------------------------------------------------------------------


def demo_settings(
    settings: Settings, run_id: str, data_dir: Path, clock_interval_s: float
) -> Settings:
    """``settings`` with the run's own app id, topics, data folder and the event clock."""
    prefix = f"demo.{run_id}"
    return settings.model_copy(
        update={
            "app_id": f"loanwatch-demo-{run_id}",
            "data_dir": data_dir,
            "topics": settings.topics.model_copy(
                update={name: f"{prefix}.{name}" for name in _TOPIC_NAMES}
            ),
            "worker": settings.worker.model_copy(
                update={"clock": "event", "clock_interval_s": clock_interval_s}
            ),
        }
    )


def _worker_env(demo: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "LOANWATCH_APP_ID": demo.app_id,
            "LOANWATCH_DATA_DIR": str(demo.data_dir.resolve()),
            "LOANWATCH_WORKER__CLOCK": "event",
            "LOANWATCH_WORKER__CLOCK_INTERVAL_S": str(demo.worker.clock_interval_s),
            **{
                f"LOANWATCH_TOPICS__{name.upper()}": getattr(demo.topics, name)
                for name in _TOPIC_NAMES
            },
        }
    )
    return env


class _Meter:
    """Reads the warnings topic from the start, and the worker's progress from offsets."""

    def __init__(self, demo: Settings) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
        from confluent_kafka.admin import AdminClient

        self._tp = TopicPartition
        self.demo = demo
        self.partitions = demo.topics.partitions
        self.consumer = Consumer(
            {
                **demo.kafka.confluent_config(),
                "group.id": f"{demo.app_id}-viewer",
                "enable.auto.commit": False,
            }
        )
        self.consumer.assign(
            [
                TopicPartition(demo.topics.warnings, p, OFFSET_BEGINNING)
                for p in range(self.partitions)
            ]
        )
        admin_conf: dict[str, str | int | float | bool] = {**demo.kafka.confluent_config()}
        self.admin = AdminClient(admin_conf)

    def poll(self, tally: WarningTally, seconds: float) -> int:
        got = 0
        for msg in self.consumer.consume(num_messages=1_000, timeout=seconds):
            if msg.error() is None:
                tally.add(msg.value())
                got += 1
        return got

    def _ends(self, topic: str) -> list[int]:
        return [
            self.consumer.get_watermark_offsets(self._tp(topic, p), timeout=5)[1]
            for p in range(self.partitions)
        ]

    def measure(self, progress: _Progress) -> None:
        """Events in the topic, and events/ticks the worker has committed as judged."""
        from confluent_kafka import ConsumerGroupTopicPartitions

        events, ticks = self.demo.topics.events, ticks_topic(self.demo)
        ends = self._ends(events)
        progress.events_in_topic = sum(ends)
        wanted = [self._tp(t, p) for t in (events, ticks) for p in range(self.partitions)]
        try:
            futures = self.admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(self.demo.app_id, wanted)], request_timeout=5
            )
            answer = futures[self.demo.app_id].result(timeout=5)
        except Exception:  # the group may not exist yet: progress stays unknown
            progress.lag = None
            return
        done = {(tp.topic, tp.partition): max(tp.offset, 0) for tp in answer.topic_partitions or []}
        progress.events_judged = sum(done.get((events, p), 0) for p in range(self.partitions))
        progress.ticks_judged = sum(done.get((ticks, p), 0) for p in range(self.partitions))
        # Only the events count: with the event clock frozen at the last event's day,
        # the worker may keep ticking a loan due that day, so the ticks never "end".
        progress.lag = sum(max(0, end - done.get((events, p), 0)) for p, end in enumerate(ends))

    def close(self) -> None:
        self.consumer.close()

    def delete_run_topics(self) -> list[str]:
        prefix = self.demo.topics.events.rsplit(".", 1)[0] + "."
        names = [
            name
            for name in self.admin.list_topics(timeout=10).topics
            if name.startswith(prefix) or name.startswith(self.demo.app_id)
        ]
        if names:
            for future in self.admin.delete_topics(names, request_timeout=30).values():
                with contextlib.suppress(Exception):  # best effort: a leftover is harmless
                    future.result(timeout=30)
        return names


def _start_worker(demo: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            env=_worker_env(demo),
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C reaches only us, and we stop it in order.
            start_new_session=True,
        )


def _stop_worker(proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


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
    """Run the whole demo (see the module doc) and return its result; prints as it goes.

    ``out_dir`` (default ``<state_dir>/demo``) receives ``labels.jsonl``,
    ``summary.json`` and ``worker.log``. Ctrl-C (KeyboardInterrupt) stops the
    worker and cleans up before it propagates.
    """
    console = console or Console()
    out = out_dir or settings.state_dir / "demo"
    out.mkdir(parents=True, exist_ok=True)
    run_id = f"{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    data_dir = out / f"worker-{run_id}"
    demo = demo_settings(settings, run_id, data_dir, clock_interval_s)
    labels_path = out / "labels.jsonl"
    summary_path = out / "summary.json"
    log_path = out / "worker.log"
    started = time.monotonic()

    if start_stack:
        from config import stack as local_stack

        with console.status("starting the local stack..."):
            local_stack.up(settings)
    ensure_topics(demo)
    console.print(
        f"demo run [bold]{run_id}[/]: {loans} loans over {months} months (seed {seed}), "
        f"rate {'max' if rate is None else f'{rate:g}/s'}",
        highlight=False,
    )
    console.print(
        f"topics {demo.topics.events} -> {demo.topics.warnings}; worker log {log_path}",
        highlight=False,
    )

    tally = WarningTally()
    progress = _Progress(run_id, started)
    sim: dict[str, Any] = {}

    cancel = threading.Event()

    def simulate() -> None:
        try:
            sim["summary"] = simulate_command(
                demo,
                loans=loans,
                months=months,
                seed=seed,
                rate=rate,
                labels_path=labels_path,
                to_file=None,
                topic=demo.topics.events,
                cancel=cancel,
            )
        except BaseException as exc:  # reported by the main thread
            sim["error"] = f"{type(exc).__name__}: {exc}"

    proc = _start_worker(demo, log_path)
    meter: _Meter | None = None
    stopped = "time limit"
    error: str | None = None
    thread: threading.Thread | None = None
    try:
        meter = _Meter(demo)
        thread = threading.Thread(target=simulate, name="demo-simulator", daemon=True)
        thread.start()
        live = (
            Live(_view(tally, progress), console=console, auto_refresh=False, transient=True)
            if console.is_terminal
            else None
        )
        last_warning = last_measure = last_line = time.monotonic()
        sim_done_at: float | None = None
        if live is not None:
            live.start()
        try:
            while True:
                if meter.poll(tally, 0.25):
                    last_warning = time.monotonic()
                now = time.monotonic()
                if sim_done_at is None and not thread.is_alive():
                    sim_done_at = now
                    if "error" in sim:
                        progress.simulator = "FAILED"
                        stopped, error = "simulator failed", sim["error"]
                        break
                    progress.simulator = "done"
                if now - last_measure >= 1.0:
                    meter.measure(progress)
                    last_measure = now
                if proc.poll() is not None:
                    stopped = "worker exited"
                    error = f"the worker exited with code {proc.returncode}; see {log_path}"
                    break
                if live is not None:
                    live.update(_view(tally, progress), refresh=True)
                elif now - last_line >= 5.0:
                    console.print(progress.line(tally), highlight=False)
                    last_line = now
                if sim_done_at is not None:
                    quiet = now - max(last_warning, sim_done_at)
                    if (progress.lag == 0 and quiet >= quiet_s) or quiet >= 4 * quiet_s:
                        stopped = "settled"
                        break
                if now - started >= max_seconds:
                    stopped = "time limit"
                    break
        finally:
            if live is not None:
                live.stop()
        meter.measure(progress)
        meter.poll(tally, 0.5)
    finally:
        # Stop the simulator first (Ctrl-C, a failure): its producer would recreate
        # the events topic we are about to delete.
        cancel.set()
        if thread is not None:
            thread.join(timeout=60)
        code = _stop_worker(proc)
        if meter is not None:
            meter.close()
            if not keep:
                with contextlib.suppress(Exception):  # best effort
                    meter.delete_run_topics()
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    elapsed = time.monotonic() - started
    console.print(_view(tally, progress))
    console.print(
        f"stopped: {stopped} after {elapsed:.1f}s; worker exit code {code}", highlight=False
    )

    summary: SimulationSummary | None = sim.get("summary")
    labels = read_labels(labels_path) if summary is not None else []
    scores = score_signals(labels, tally.kept, zone=settings.time_zone)
    model_scores = score_signals(
        labels, tally.kept, mapping=MODEL_SIGNAL_RULES, zone=settings.time_zone
    )
    unscored = unscored_counts(labels)
    result = DemoResult(
        run_id=run_id,
        stopped=stopped,
        elapsed_s=elapsed,
        simulation=summary,
        tally=tally,
        scores=scores,
        model_scores=model_scores,
        unscored=unscored,
        summary_path=summary_path,
        worker_log=log_path,
        error=error,
    )
    _write_summary(result, demo, progress, rate)
    return result


def _write_summary(
    result: DemoResult, demo: Settings, progress: _Progress, rate: float | None
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
