"""End-to-end benchmark: a real worker process on the local stack, against in-run baselines.

1. The simulator preloads M events into a fresh events topic.
2. Baselines, same run, same topic:
   - a bare confluent-kafka loop consumes it and produces every message to
     another topic (no decoding, no state): the ceiling for any
     consume-and-produce process on this machine;
   - `bench/faust_floor.py`: the cheapest Faust worker shaped like ours (table
     read + write, one send per event), timed like the worker;
   - `bench/faust_floor.py` as a no-op agent (``async for event in
     stream.events(): pass``, no table): Faust's own ceiling, timed from its
     first event to its last (``faust_noop_events_per_s``; the worker's
     ``ratio_vs_faust_noop``).
3. A `loanwatch worker` process (its own app id and topics, event clock)
   consumes the same M events; its throughput is measured from the first
   committed offset to the last (start-up excluded), by polling the group's
   committed offsets.
4. Latency: with the worker caught up, a second book, starting the day the
   first one ends (older events would be refused as too late), is produced at
   a steady rate, a fraction of the measured throughput (``--load``, default
   half). The fraction is of the worker's steps, events and the event clock's
   ticks together (`steps_per_event`, replayed offline by the backtest's
   `streams.backtest.Replay`, one clock per partition): the latency book's
   loans are few while the first book's still wake up, so each of its events
   brings about twice the steps. Each warning is matched to the event that triggered it (by
   event_id); latency is the warning message's Kafka timestamp minus the
   event message's. That timestamp is taken when the event is handed to the
   producer, so this producer is connected before the first event and sends
   each at once (linger 0, not idempotent: an idempotent producer's start-up,
   about half a second, and the simulator's 20 ms linger were counted as the
   worker's latency before). Each latency is split at the warning's
   ``produced_at`` (when the worker judged the event): ``wait`` before it
   (fetching, queueing), ``send`` after it.
5. ``--workers 2``: two worker processes in one group (own app id) catch up
   the same topic from the start (``events_per_s_two_workers``).
6. ``--fetch-wait-ms N`` runs every worker with its consumer's fetch wait at N
   ms (`bench/fetch_wait_worker.py`; Faust fixes 1500), to compare runs.

    .venv/bin/python bench/stream.py --loans 400 --months 6 --workers 2

Ends with one JSON line:
{"events_per_s": .., "ratio_vs_bare": .., "ratio_vs_faust_noop": .., "p99_ms": .., ...}
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

# bench/models.py is named like the package `streams.backtest` imports: take this
# folder off the import path (the scripts run beside this one are started by path).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from config import Settings, load_settings  # noqa: E402
from config import stack as local_stack  # noqa: E402
from config.settings import TopicSettings  # noqa: E402
from rules import Event, encode_event  # noqa: E402
from rules.core import Engine, Tick  # noqa: E402
from rules.pack import default_pack  # noqa: E402
from rules.policy import load_policy  # noqa: E402
from rules.workflows import load_workflow_policy  # noqa: E402
from streams.backtest import CoreStepper, Replay  # noqa: E402
from streams.simulate import DEFAULT_START, BookSpec, LoanBook, TokenBucket, produce_book  # noqa: E402
from streams.topics import ensure_topics  # noqa: E402


def local_settings(base: Settings, run: str) -> tuple[Settings, dict[str, str]]:
    names = {name: f"bench.{run}.{name}" for name in TopicSettings.names()}
    settings = base.model_copy(
        update={"app_id": f"bench-{run}", "topics": base.topics.model_copy(update=names)}
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOANWATCH_")}
    env.update({f"LOANWATCH_TOPICS__{k.upper()}": v for k, v in names.items()})
    env.update(
        {
            "LOANWATCH_APP_ID": settings.app_id,
            "LOANWATCH_WORKER__CLOCK": "event",
            "LOANWATCH_WORKER__CLOCK_INTERVAL_S": "1",
            "LOANWATCH_DATA_DIR": tempfile.mkdtemp(prefix="lw-bench-"),
        }
    )
    return settings, env


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    consumer = Consumer({**settings.kafka.confluent_config(), "group.id": "bench-probe"})
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    ends = {}
    for p in meta.partitions:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        ends[p] = high
    consumer.close()
    return ends


def bare_loop(settings: Settings, source: str, target: str, total: int) -> float:
    """Consume ``total`` messages and produce each to ``target``; return events/s."""
    consumer = Consumer(
        {
            **settings.kafka.confluent_config(),
            "group.id": f"bench-bare-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
        }
    )
    producer = Producer({**settings.kafka.producer_config(), "linger.ms": 5})
    consumer.subscribe([source])
    seen = 0
    started = None
    while seen < total:
        batch = consumer.consume(500, timeout=1.0)
        for msg in batch:
            if msg.error() is not None:
                continue
            if started is None:
                started = time.perf_counter()
            producer.produce(target, key=msg.key(), value=msg.value())
            seen += 1
        producer.poll(0)
    producer.flush(60)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return seen / elapsed


def paced(settings: Settings, events: list[Event], rate: float) -> None:
    """Produce ``events`` at ``rate`` per second, each sent the moment it is timestamped."""
    producer = Producer(
        {**settings.kafka.producer_config(), "linger.ms": 0, "enable.idempotence": False}
    )
    producer.list_topics(settings.topics.events, timeout=10)  # connected before the clock
    bucket = TokenBucket(rate)
    for event in events:
        bucket.take()
        producer.produce(
            settings.topics.events, key=event.loan_id.encode(), value=encode_event(event)
        )
        producer.poll(0)
    assert producer.flush(60) == 0


def committed(settings: Settings, group: str, topic: str, partitions: list[int]) -> int:
    consumer = Consumer({**settings.kafka.confluent_config(), "group.id": group})
    offsets = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
    consumer.close()
    return sum(max(0, tp.offset) for tp in offsets)


def wait_caught_up(
    settings: Settings,
    topic: str,
    total_end: dict[int, int],
    procs: subprocess.Popen[bytes] | list[subprocess.Popen[bytes]],
    group: str | None = None,
) -> tuple[float, float, int]:
    """Poll the worker group's commits; return (first progress time, caught-up time, base)."""
    partitions = sorted(total_end)
    goal = sum(total_end.values())
    first_t: float | None = None
    base = 0
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in (procs if isinstance(procs, list) else [procs])):
            raise RuntimeError("worker exited")
        done = committed(settings, group or settings.app_id, topic, partitions)
        now = time.perf_counter()
        if first_t is None and done > 0:
            first_t, base = now, done
        if done >= goal:
            return first_t or now, now, base
        time.sleep(0.2)
    raise RuntimeError("worker did not catch up in 15 minutes")


def latencies(
    settings: Settings, run_events: set[str], warnings_topic: str, events_topic: str
) -> list[tuple[float, float]]:
    """Per warning: (ms from its event's Kafka timestamp to its own, ms of that before judging)."""
    event_ts: dict[str, int] = {}
    consumer = Consumer(
        {
            **settings.kafka.confluent_config(),
            "group.id": f"bench-lat-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([events_topic, warnings_topic])
    quiet_since = time.monotonic()
    warnings: list[tuple[str, int, float]] = []
    while time.monotonic() - quiet_since < 5:
        batch = consumer.consume(1000, timeout=1.0)
        if batch:
            quiet_since = time.monotonic()
        for msg in batch:
            if msg.error() is not None:
                continue
            body = orjson.loads(msg.value())
            if msg.topic() == events_topic:
                if body.get("event_id") in run_events:
                    event_ts[body["event_id"]] = msg.timestamp()[1]
            elif body.get("event_id") in run_events and body.get("status") == "open":
                judged = datetime.fromisoformat(body["produced_at"]).timestamp() * 1000
                warnings.append((body["event_id"], msg.timestamp()[1], judged))
    consumer.close()
    return [
        (float(ts - event_ts[event_id]), judged - event_ts[event_id])
        for event_id, ts, judged in warnings
        if event_id in event_ts
    ]


def percentiles(samples: list[tuple[float, float]], suffix: str = "") -> dict[str, Any]:
    """p50/p99 of the whole latency and p99 of its wait before judging, in ms."""
    total = sorted(t for t, _ in samples)
    wait = sorted(w for _, w in samples)

    def pick(values: list[float], q: float) -> float | None:
        return round(values[min(len(values) - 1, int(len(values) * q))], 1) if values else None

    return {
        f"latency_samples{suffix}": len(samples),
        f"p50_ms{suffix}": round(statistics.median(total), 1) if total else None,
        f"p99_ms{suffix}": pick(total, 0.99),
        f"max_ms{suffix}": total[-1] if total else None,
        f"p99_wait_ms{suffix}": pick(wait, 0.99),
    }


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 30 s."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def floor_process(
    settings: Settings, run: str, mode: str, total: int, stdout: int | None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `bench/faust_floor.py` in ``mode`` (floor or noop); the process and its group."""
    group = f"bench-{mode}-{run}"
    env = {
        **os.environ,
        "FLOOR_MODE": mode,
        "FLOOR_EXPECT": str(total),
        "FLOOR_APP_ID": group,
        "FLOOR_SOURCE": settings.topics.events,
        "FLOOR_TARGET": f"bench.{run}.floor",
        "FLOOR_DATA_DIR": tempfile.mkdtemp(prefix=f"lw-{mode}-"),
        "FLOOR_BROKER": f"kafka://{settings.kafka.bootstrap_servers}",
        "FLOOR_PARTITIONS": str(settings.topics.partitions),
        "FLOOR_LINGER_MS": str(settings.worker.linger_ms),
    }
    script = Path(__file__).with_name("faust_floor.py")
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, str(script)], env=env, stdout=stdout, stderr=subprocess.DEVNULL
    )
    return proc, group


def faust_floor(settings: Settings, run: str, ends: dict[int, int]) -> float | None:
    """Events/s of the Faust floor (table read + write + one send per event).

    ``None`` when it was done before its first commit was seen (too few events to time).
    """
    total = sum(ends.values())
    proc, group = floor_process(settings, run, "floor", total, subprocess.DEVNULL)
    try:
        first, last, done = wait_caught_up(settings, settings.topics.events, ends, proc, group)
    finally:
        stop(proc)
    if done >= total:
        return None
    return (total - done) / max(1e-9, last - first)


def faust_noop(settings: Settings, run: str, total: int) -> float:
    """Events/s of a Faust agent that does nothing, as it timed itself."""
    proc, _ = floor_process(settings, run, "noop", total, subprocess.PIPE)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # Faust prints its own lines too; ours comes after the last event
            if line.startswith(b'{"events"'):
                timed = orjson.loads(line)
                return float(timed["events"] / max(1e-9, timed["seconds"]))
    finally:
        stop(proc)
    raise RuntimeError("the no-op Faust agent exited before its last event")


def start_profile(path: Path, pid: int) -> subprocess.Popen[bytes]:
    """Sample the worker with py-spy (raw stacks, one per line) while it catches up."""
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(  # noqa: S603
        [str(spy), "record", "--pid", str(pid), "--rate", "200", "--format", "raw"]
        + ["--output", str(path), "--nonblocking"],
        stdout=subprocess.DEVNULL,
    )


class Workers:
    """`loanwatch worker` processes of one group, each with its own data folder and log."""

    def __init__(self, env: dict[str, str], app_id: str, count: int = 1, fetch_wait_ms: int = 0):
        self.app_id = app_id
        self.procs: list[subprocess.Popen[bytes]] = []
        command = ["-m", "streams.cli"]
        extra = {"LOANWATCH_APP_ID": app_id}
        if fetch_wait_ms:
            command = [str(Path(__file__).with_name("fetch_wait_worker.py"))]
            extra["BENCH_FETCH_MAX_WAIT_MS"] = str(fetch_wait_ms)
        for _ in range(count):
            data = tempfile.mkdtemp(prefix="lw-bench-")
            own = {**env, **extra, "LOANWATCH_DATA_DIR": data}
            with (Path(data) / "worker.log").open("wb") as sink:
                self.procs.append(
                    subprocess.Popen(  # noqa: S603
                        [sys.executable, *command, "worker", "--loglevel", "warn"],
                        env=own,
                        stdout=sink,
                        stderr=subprocess.STDOUT,
                    )
                )

    def rate(self, settings: Settings, ends: dict[int, int]) -> float:
        """Events/s from the group's first commit until it has committed ``ends``."""
        first, last, done = wait_caught_up(
            settings, settings.topics.events, ends, self.procs, self.app_id
        )
        return (sum(ends.values()) - done) / max(1e-9, last - first)

    def stop(self) -> None:
        for proc in self.procs:
            stop(proc)


def latency_book(args: argparse.Namespace, book_no: int) -> list[Event]:
    """Book ``book_no`` (1, 2, ..: each starts the day the one before it ends)."""
    months_before = args.months + 3 * (book_no - 1)
    later = DEFAULT_START + timedelta(days=31 * months_before)
    return list(LoanBook(BookSpec(max(20, args.loans // 4), 3, args.seed + book_no, later)))


def steps_per_event(settings: Settings, books: list[list[Event]]) -> list[float]:
    """Per book, the worker's steps per event under the event clock (1 + ticks per event).

    Replayed offline through the engine as the worker judges them (`Replay` with one
    clock per partition, owed ticks before an event of a later day, books one after
    the other, at the wall clock's time as the worker's). The latency book's loans
    are few and the first book's still wake up, so it costs more steps per event
    than the book the capacity was measured on: 2.37 against 1.11 at the default
    size. Its rate is set in steps, or "half the capacity" would be all of it.
    """
    # The worker's defaults, built from rules.* as `streams.app.build_engine` does
    # (whose module loads Faust and the whole worker for one function).
    engine = Engine(default_pack(), load_policy(None), load_workflow_policy(None))
    replay = Replay(
        CoreStepper(engine), engine, partitions=settings.topics.partitions, now=datetime.now(UTC)
    )
    out = []
    for book in books:
        ticks = sum(isinstance(item, Tick) for item, _ in replay.steps(book))
        out.append(1 + ticks / max(1, len(book)))
    return out


def latency_phase(settings: Settings, book: list[Event], rate: float) -> list[tuple[float, float]]:
    """``book`` paced at ``rate``; each warning's latency from its event."""
    paced(settings, book, rate)
    ids = {e.event_id for e in book}
    return latencies(settings, ids, settings.topics.warnings, settings.topics.events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loans", type=int, default=400)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="LOANWATCH_NAME=VALUE",
        help="a setting for the worker (repeatable), e.g. LOANWATCH_WORKER__MODELS=false",
    )
    parser.add_argument(
        "--load",
        type=float,
        default=0.5,
        help="the latency phase's rate as a fraction of the measured throughput (default 0.5)",
    )
    parser.add_argument(
        "--latency-rate", type=float, help="events/s for the latency phase (overrides --load)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: also time two worker processes of one group on the same topic",
    )
    parser.add_argument(
        "--fetch-wait-ms",
        type=int,
        default=0,
        metavar="MS",
        help="run the workers with their consumer's fetch wait at MS (Faust fixes 1500)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="record a py-spy profile (raw stacks) of the worker into this file",
    )
    args = parser.parse_args()

    base = load_settings()
    local_stack.up(base)
    run = uuid.uuid4().hex[:8]
    settings, env = local_settings(base, run)
    for assignment in args.set:
        name, _, value = assignment.partition("=")
        if not name.startswith("LOANWATCH_"):
            parser.error(f"--set {assignment!r}: expected LOANWATCH_NAME=VALUE")
        env[name] = value
    ensure_topics(settings)

    book = list(LoanBook(BookSpec(args.loans, args.months, args.seed)))
    report = produce_book(settings, book, rate=None)
    assert report.ok, report.errors
    ends = end_offsets(settings, settings.topics.events)
    total = sum(ends.values())
    say(f"preloaded {total} events")

    bare = bare_loop(settings, settings.topics.events, f"bench.{run}.bare", total)
    say(f"bare consume+produce: {bare:,.0f} events/s")
    floor = faust_floor(settings, run, ends)
    shown = f"{floor:,.0f} events/s" if floor else "too few events to time (use more --loans)"
    say(f"faust floor (table read+write, one send): {shown}")
    noop = faust_noop(settings, run, total)
    say(f"faust no-op agent: {noop:,.0f} events/s")

    workers = Workers(env, settings.app_id, fetch_wait_ms=args.fetch_wait_ms)
    spy = start_profile(args.profile, workers.procs[0].pid) if args.profile else None
    try:
        worker_rate = workers.rate(settings, ends)
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            spy.wait(timeout=60)
        say(f"worker: {worker_rate:,.0f} events/s")
        # Latency at a steady rate below capacity, with the worker caught up; the
        # load is a share of the steps (events and ticks) the worker did per second.
        live = latency_book(args, 1)
        steps_first, steps_live = steps_per_event(settings, [book, live])
        say(f"steps per event: {steps_first:.2f} measured book, {steps_live:.2f} latency book")
        step_rate = worker_rate * steps_first
        rate = args.latency_rate or max(20.0, min(2000.0, step_rate * args.load / steps_live))
        lat = latency_phase(settings, live, rate)
        say(f"latency at {rate:,.0f} events/s: {percentiles(lat)}")
    finally:
        workers.stop()
    figures: dict[str, Any] = {
        "events": total,
        "events_per_s": round(worker_rate),
        "bare_events_per_s": round(bare),
        "ratio_vs_bare": round(worker_rate / bare, 3),
        "faust_floor_events_per_s": round(floor) if floor else None,
        "ratio_vs_faust_floor": round(worker_rate / floor, 3) if floor else None,
        "faust_noop_events_per_s": round(noop),
        "ratio_vs_faust_noop": round(worker_rate / noop, 3),
        "fetch_wait_ms": args.fetch_wait_ms or None,
        "steps_per_event": round(steps_first, 3),
        "latency_steps_per_event": round(steps_live, 3),
        "latency_load": round(rate * steps_live / step_rate, 3),
        "latency_rate_events_per_s": round(rate),
        **percentiles(lat),
    }
    if args.workers == 2:
        two = Workers(env, f"{settings.app_id}-w2", count=2, fetch_wait_ms=args.fetch_wait_ms)
        try:
            two_rate = two.rate(settings, end_offsets(settings, settings.topics.events))
        finally:
            two.stop()
        say(f"two workers: {two_rate:,.0f} events/s")
        figures["events_per_s_two_workers"] = round(two_rate)
        figures["ratio_two_workers_vs_one"] = round(two_rate / worker_rate, 3)
    for key, value in figures.items():
        say(f"{key:>30}: {value}")
    print(orjson.dumps(figures).decode())


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
