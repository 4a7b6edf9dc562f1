"""End-to-end benchmark: a real worker process on the local stack, against a bare loop.

1. The simulator preloads M events into a fresh events topic.
2. Baseline, same run: a bare confluent-kafka loop consumes that topic and
   produces every message to another topic (no decoding, no state) — the
   ceiling for any consume-and-produce process on this machine.
3. A `loanwatch worker` process (its own app id and topics, event clock)
   consumes the same M events; its throughput is measured from the first
   committed offset to the last (start-up excluded), by polling the group's
   committed offsets.
4. Latency: with the worker caught up, a second book, starting the day the
   first one ends (older events would be refused as too late), is produced at
   a steady rate well below the measured throughput (a tenth), and each warning is
   matched to the event that triggered it (by event_id); latency is the
   warning message's Kafka timestamp minus the event message's. That
   timestamp is taken when the event is handed to the producer, so this
   producer is connected before the first event and sends each at once
   (linger 0, not idempotent: an idempotent producer's start-up, about half a
   second, and the simulator's 20 ms linger were counted as the worker's
   latency before).

    .venv/bin/python bench/stream.py --loans 400 --months 6

Ends with one JSON line:
{"events_per_s": .., "ratio_vs_bare": .., "p50_ms": .., "p99_ms": .., ...}
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
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

from config import Settings, load_settings
from config import stack as local_stack
from config.settings import TopicSettings
from rules import Event, encode_event
from streams.simulate import DEFAULT_START, BookSpec, LoanBook, TokenBucket, produce_book
from streams.topics import ensure_topics


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
    producer = Producer({**settings.kafka.confluent_config(), "linger.ms": 5})
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
        {**settings.kafka.confluent_config(), "linger.ms": 0, "enable.idempotence": False}
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
    proc: subprocess.Popen[bytes],
    group: str | None = None,
) -> tuple[float, float, int]:
    """Poll the worker group's commits; return (first progress time, caught-up time, base)."""
    partitions = sorted(total_end)
    goal = sum(total_end.values())
    first_t: float | None = None
    base = 0
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if proc.poll() is not None:
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
) -> list[float]:
    """Milliseconds from each event's Kafka timestamp to its warning's."""
    event_ts: dict[str, int] = {}
    consumer = Consumer(
        {
            **settings.kafka.confluent_config(),
            "group.id": f"bench-lat-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([events_topic, warnings_topic])
    out: list[float] = []
    quiet_since = time.monotonic()
    warnings: list[tuple[str, int]] = []
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
                warnings.append((body["event_id"], msg.timestamp()[1]))
    consumer.close()
    for event_id, ts in warnings:
        if event_id in event_ts:
            out.append(float(ts - event_ts[event_id]))
    return out


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def faust_floor(settings: Settings, run: str, ends: dict[int, int]) -> float | None:
    """Events/s of `bench/faust_floor.py` (table read + write + one send per event).

    ``None`` when it was done before its first commit was seen (too few events to time).
    """
    total = sum(ends.values())
    group = f"bench-floor-{run}"
    env = {
        **os.environ,
        "FLOOR_APP_ID": group,
        "FLOOR_SOURCE": settings.topics.events,
        "FLOOR_TARGET": f"bench.{run}.floor",
        "FLOOR_DATA_DIR": tempfile.mkdtemp(prefix="lw-floor-"),
        "FLOOR_BROKER": f"kafka://{settings.kafka.bootstrap_servers}",
        "FLOOR_PARTITIONS": str(settings.topics.partitions),
        "FLOOR_LINGER_MS": str(settings.worker.linger_ms),
    }
    script = Path(__file__).with_name("faust_floor.py")
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, str(script)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first, last, done = wait_caught_up(settings, settings.topics.events, ends, proc, group)
    finally:
        stop(proc)
    if done >= total:
        return None
    return (total - done) / max(1e-9, last - first)


def start_profile(path: Path, pid: int) -> subprocess.Popen[bytes]:
    """Sample the worker with py-spy (raw stacks, one per line) while it catches up."""
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(  # noqa: S603
        [str(spy), "record", "--pid", str(pid), "--rate", "200", "--format", "raw"]
        + ["--output", str(path), "--nonblocking"],
        stdout=subprocess.DEVNULL,
    )


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
        "--latency-rate",
        type=float,
        help="events/s for the latency phase (default: a tenth of the measured throughput)",
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
    print(f"preloaded {total} events", file=sys.stderr)

    bare = bare_loop(settings, settings.topics.events, f"bench.{run}.bare", total)
    print(f"bare consume+produce: {bare:,.0f} events/s", file=sys.stderr)
    floor = faust_floor(settings, run, ends)
    shown = f"{floor:,.0f} events/s" if floor else "too few events to time (use more --loans)"
    print(f"faust floor (table read+write, one send): {shown}", file=sys.stderr)

    log = Path(env["LOANWATCH_DATA_DIR"]) / "worker.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "warn"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    spy = start_profile(args.profile, proc.pid) if args.profile else None
    try:
        first, last, base_done = wait_caught_up(settings, settings.topics.events, ends, proc)
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            spy.wait(timeout=60)
        worker_rate = (total - base_done) / max(1e-9, last - first)
        print(f"worker: {worker_rate:,.0f} events/s", file=sys.stderr)

        # Latency at a steady rate below capacity, with the worker caught up.
        later = DEFAULT_START + timedelta(days=31 * args.months)
        second = list(LoanBook(BookSpec(max(20, args.loans // 4), 3, args.seed + 1, later)))
        # A tenth: the event clock runs the book's months in seconds, so its ticks
        # come on top of the events (at half the throughput the queue grew: p50 1.9 s).
        rate = args.latency_rate or max(20.0, min(2000.0, worker_rate * 0.1))
        paced(settings, second, rate)
        ids = {e.event_id for e in second}
        lat = latencies(settings, ids, settings.topics.warnings, settings.topics.events)
    finally:
        stop(proc)

    lat.sort()
    figures: dict[str, Any] = {
        "events": total,
        "events_per_s": round(worker_rate),
        "bare_events_per_s": round(bare),
        "ratio_vs_bare": round(worker_rate / bare, 3),
        "faust_floor_events_per_s": round(floor) if floor else None,
        "ratio_vs_faust_floor": round(worker_rate / floor, 3) if floor else None,
        "latency_rate_events_per_s": round(rate),
        "latency_samples": len(lat),
        "p50_ms": round(statistics.median(lat), 1) if lat else None,
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1) if lat else None,
    }
    for key, value in figures.items():
        print(f"{key:>26}: {value}", file=sys.stderr)
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
