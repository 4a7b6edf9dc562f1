"""Fixtures for tests against the real local stack (Kafka, Redis, ClickHouse).

The stack is started once per session (idempotent: a running stack is reused),
and each test gets its own Kafka topic, Redis key prefix and ClickHouse database,
so tests never see each other's data and a second run starts clean.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from clickhouse_driver import Client
from confluent_kafka.admin import AdminClient, NewTopic

from config import Settings, load_settings
from config import stack as local_stack
from config.settings import TopicSettings
from config.stack.kafka import KafkaService


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> list[local_stack.ServiceStatus]:
    return local_stack.up(settings)


@pytest.fixture
def unique() -> str:
    """A short name fragment unique to this test run."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def kafka_admin(stack: object, settings: Settings) -> AdminClient:
    return AdminClient(settings.kafka.confluent_config())


def _own_topic(kafka_admin: AdminClient, name: str) -> Iterator[str]:
    futures = kafka_admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
    futures[name].result(timeout=30)
    yield name
    kafka_admin.delete_topics([name])[name].result(timeout=30)


@pytest.fixture
def topic(kafka_admin: AdminClient, unique: str) -> Iterator[str]:
    yield from _own_topic(kafka_admin, f"test.{unique}")


@pytest.fixture
def transitions_topic(kafka_admin: AdminClient, unique: str) -> Iterator[str]:
    """A second topic of the test's own, for writers that read transitions beside warnings."""
    yield from _own_topic(kafka_admin, f"test.{unique}.transitions")


@pytest.fixture
def redis_client(stack: object, settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.redis.url, **settings.redis.client_kwargs())
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis, unique: str) -> Iterator[str]:
    prefix = f"test:{unique}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=prefix + "*"))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def clickhouse(stack: object, settings: Settings, unique: str) -> Iterator[Client]:
    """A client bound to a fresh database that is dropped after the test."""
    database = f"test_{unique}"
    admin = Client(**settings.clickhouse.driver_kwargs(database="default"))
    admin.execute(f"CREATE DATABASE {database}")
    client = Client(**settings.clickhouse.driver_kwargs(database=database))
    yield client
    client.disconnect()
    admin.execute(f"DROP DATABASE IF EXISTS {database}")
    admin.disconnect()


@pytest.fixture
def worker_env(tmp_path: Path, unique: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOANWATCH_")}
    env.update(
        {
            "LOANWATCH_APP_ID": f"test-{unique}",
            "LOANWATCH_TOPICS__EVENTS": f"test.{unique}.events",
            "LOANWATCH_TOPICS__DLQ": f"test.{unique}.dlq",
            "LOANWATCH_TOPICS__WARNINGS": f"test.{unique}.warnings",
            "LOANWATCH_TOPICS__TRANSITIONS": f"test.{unique}.transitions",
            "LOANWATCH_TOPICS__ACTIONS": f"test.{unique}.actions",
            "LOANWATCH_TOPICS__RULES": f"test.{unique}.rules",
            "LOANWATCH_TOPICS__MODEL_METRICS": f"test.{unique}.model_metrics",
            "LOANWATCH_DATA_DIR": str(tmp_path / "worker"),
            # Replays age loans by event time; a short interval keeps tests quick.
            "LOANWATCH_WORKER__CLOCK": "event",
            "LOANWATCH_WORKER__CLOCK_INTERVAL_S": "0.5",
        }
    )
    return env


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 30 s."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def worker(
    stack: list[local_stack.ServiceStatus], worker_env: dict[str, str], tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "worker"],
        env=worker_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    yield proc
    if proc.poll() is not None:
        print((tmp_path / "worker.log").read_text(errors="replace")[-5000:])
    stop_process(proc)
    log.close()


# -- Reliability harness: real worker processes, killed, restarted and joined -----------
#
# Shared by test_worker_recovery.py, test_worker_rebalance.py and
# test_worker_exactly_once.py. The book is the seeded simulator's (every profile:
# good payers, late payers, defaults, diversion, ...); the expected warnings come
# from replaying the same events, in the same per-loan order, through the pure
# `rules.core.Engine` in this process.


def reliability_book(loans: int = 30, months: int = 4, seed: int = 7) -> list[Any]:
    """A small seeded book (about 1,300 events for 30 loans over 4 months)."""
    from streams.simulate.book import BookSpec, LoanBook

    return list(LoanBook(BookSpec(loans, months, seed)))


def expected_warnings(
    settings: Settings, events: list[Any]
) -> list[dict[tuple[str, str], dict[str, Any]]]:
    """Offline expectation: per event, its warnings as {(warning_id, status): body}.

    Bodies are what the worker sends (orjson round trip) without `produced_at`, the
    only field that depends on when the step ran. The events are replayed per
    partition (each loan's by Kafka's default partitioner, as our producers place
    them) with the event clock's ticks, by the backtest's replay rather than the
    worker's code (`streams.backtest.Replay` with ``partitions``): before an event of
    a later day, each loan whose wake-up day came is ticked on that day, day by day.
    The ticks' warnings count as the event's that brought them, which is when the
    worker sends them.
    """
    from rules.core import Tick
    from streams.app import build_engine
    from streams.backtest import CoreStepper, Replay

    engine = build_engine(settings)
    replay = Replay(
        CoreStepper(engine), engine, partitions=settings.topics.partitions, now=datetime.now(UTC)
    )
    per_event: list[dict[tuple[str, str], dict[str, Any]]] = []
    seen: set[tuple[str, str]] = set()
    bodies: dict[tuple[str, str], dict[str, Any]] = {}
    for item, result in replay.steps(events):
        assert not result.rejected, (item, result.rejected)
        for warning in result.warnings:
            body = orjson.loads(orjson.dumps(warning.to_dict()))
            body.pop("produced_at")
            key = (body["warning_id"], body["status"])
            assert key not in seen, f"offline replay repeats {key}"
            seen.add(key)
            bodies[key] = body
        if not isinstance(item, Tick):  # the event: its ticks came before it
            per_event.append(bodies)
            bodies = {}
    return per_event


@pytest.fixture
def reliability_env(worker_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """`worker_env`, tuned for killing and restarting workers within a test's time.

    - The event clock judges a partition's owed ticks before its next event of a
      later day, whatever the speed, so the outputs are a function of each
      partition's events, which the offline replay reproduces exactly (ids and
      bodies: `expected_warnings`).
    - Faust reads its broker settings from the environment: a short session
      timeout lets the group drop a SIGKILLed member in seconds instead of the
      default 60 s.
    - The online models are off: a hub restored from its last checkpoint after a
      kill -9 scores differently from one that never stopped (learning since the
      checkpoint is lost by design), so model-driven warnings would not match the
      offline engine. The models in the worker have their own tests.
    - The rule pack, policy and workflow policy are snapshots taken when the test
      starts, given to the workers as files and read by the offline engine too, so
      an edit to the shipped defaults during a run cannot make them disagree.
    """
    from importlib import resources

    env = dict(worker_env)
    pinned = tmp_path / "pinned"
    pinned.mkdir(exist_ok=True)
    for setting, package, parts in (
        ("RULES_FILE", "rules", ("packs", "default.yaml")),
        ("POLICY_FILE", "rules", ("policies", "default.yaml")),
        ("WORKFLOWS_FILE", "rules", ("policies", "workflows.yaml")),
    ):
        target = pinned / f"{setting.lower()}.yaml"
        target.write_text(resources.files(package).joinpath(*parts).read_text(encoding="utf-8"))
        env[f"LOANWATCH_WORKER__{setting}"] = str(target)
    env.update(
        {
            "LOANWATCH_WORKER__CLOCK_INTERVAL_S": "3600",
            "LOANWATCH_WORKER__MODELS": "false",
            "BROKER_SESSION_TIMEOUT": "10",
            "BROKER_HEARTBEAT_INTERVAL": "1",
            "BROKER_REBALANCE_TIMEOUT": "20",
        }
    )
    return env


class Collector:
    """Reads output topics from the beginning (assigned partitions, no group) and keeps all."""

    def __init__(
        self, settings: Settings, topics: list[str], partitions: int, *, committed: bool = False
    ) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        conf = {
            **settings.kafka.confluent_config(),
            "group.id": f"test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed" if committed else "read_uncommitted",
        }
        self.consumer = Consumer(conf)
        self.consumer.assign(
            [TopicPartition(t, p, OFFSET_BEGINNING) for t in topics for p in range(partitions)]
        )
        self.committed = committed
        self.seen: dict[str, list[dict[str, Any]]] = {t: [] for t in topics}
        self.raw: dict[str, list[bytes]] = {t: [] for t in topics}
        self.headers: dict[str, list[dict[str, bytes]]] = {t: [] for t in topics}
        # (partition, offset) of each message in `seen`, for failure reports
        self.places: dict[str, list[tuple[int, int]]] = {t: [] for t in topics}

    def drain(self, seconds: float = 0.2) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msg = self.consumer.poll(0.1)
            if msg is None or msg.error() is not None:
                continue
            self.raw[msg.topic()].append(msg.value())
            self.headers[msg.topic()].append(dict(msg.headers() or []))
            self.places[msg.topic()].append((msg.partition(), msg.offset()))
            try:
                self.seen[msg.topic()].append(orjson.loads(msg.value()))
            except orjson.JSONDecodeError:
                self.seen[msg.topic()].append({"undecodable": msg.value()[:200].decode("latin-1")})

    def close(self) -> None:
        self.consumer.close()


class WorkerHarness:
    """Starts, kills and stops real `streams.cli worker` processes for one test."""

    def __init__(self, settings: Settings, env: dict[str, str], tmp_path: Path) -> None:
        self.env = env
        self.tmp_path = tmp_path
        self.local = settings.model_copy(
            update={
                "app_id": env["LOANWATCH_APP_ID"],
                "worker": settings.worker.model_copy(
                    update={
                        name: Path(env[f"LOANWATCH_WORKER__{name.upper()}"])
                        for name in ("rules_file", "policy_file", "workflows_file")
                        if f"LOANWATCH_WORKER__{name.upper()}" in env
                    }
                ),
                "topics": settings.topics.model_copy(
                    update={
                        name: env[f"LOANWATCH_TOPICS__{name.upper()}"]
                        for name in TopicSettings.names()
                    }
                ),
            }
        )
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, Any] = {}
        self.collectors: list[Collector] = []
        from streams.topics import ensure_topics

        ensure_topics(self.local)

    @property
    def partitions(self) -> int:
        return self.local.topics.partitions

    def start(
        self,
        name: str,
        data_dir: Path | None = None,
        *,
        command: list[str] | None = None,
        **extra: str,
    ) -> Any:
        """Start a worker (``command``: another way to run one, by default the CLI's)."""
        env = dict(self.env)
        if data_dir is not None:
            env["LOANWATCH_DATA_DIR"] = str(data_dir)
        env.update(extra)
        log = self._logs.get(name)
        if log is None:
            log = self._logs[name] = (self.tmp_path / f"{name}.log").open("ab")
        log.write(f"\n===== start {name} at {time.strftime('%H:%M:%S')} =====\n".encode())
        log.flush()
        proc = subprocess.Popen(
            command or [sys.executable, "-m", "streams.cli", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.tmp_path,
        )
        self.procs[name] = proc
        return proc

    def kill9(self, name: str) -> None:
        proc = self.procs[name]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self, name: str) -> None:
        stop_process(self.procs[name])

    def alive(self, *names: str) -> None:
        for name in names or tuple(self.procs):
            code = self.procs[name].poll()
            assert code is None, f"worker {name} exited with {code}\n{self.logs()}"

    def log_text(self, name: str) -> str:
        path = self.tmp_path / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self, tail: int = 6000) -> str:
        return "\n".join(
            f"----- {name}.log (last {tail} chars) -----\n{self.log_text(name)[-tail:]}"
            for name in self.procs
        )

    def produce(self, events: list[Any], *, per_second: float | None = None) -> None:
        from confluent_kafka import Producer

        from rules import encode_event

        producer = Producer(self.local.kafka.ordered_producer_config())
        failed: list[Any] = []
        started = time.monotonic()
        for n, event in enumerate(events):
            if per_second is not None:
                ahead = started + n / per_second - time.monotonic()
                if ahead > 0:
                    producer.poll(0)
                    time.sleep(ahead)
            producer.produce(
                self.local.topics.events,
                key=event.loan_id.encode(),
                value=encode_event(event),
                on_delivery=lambda err, _msg: failed.append(err) if err else None,
            )
            producer.poll(0)
        assert producer.flush(30) == 0
        assert failed == []

    def collector(self, *, committed: bool = False, topics: list[str] | None = None) -> Collector:
        """A collector of ``topics`` (by default the warnings and the dead letters)."""
        collector = Collector(
            self.local,
            topics or [self.local.topics.warnings, self.local.topics.dlq],
            self.partitions,
            committed=committed,
        )
        self.collectors.append(collector)
        return collector

    def wait(
        self,
        what: str,
        condition: Any,
        collector: Collector,
        *,
        timeout_s: float = 90,
        alive: tuple[str, ...] = (),
    ) -> None:
        """Poll the collector until `condition(collector)` holds; fail with the logs."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            collector.drain(0.3)
            if condition(collector):
                return
            self.alive(*alive)
        missing = getattr(condition, "missing", None)
        detail = f" (missing {len(missing)}: {sorted(missing)[:8]})" if missing else ""
        if missing:
            detail += self.whereabouts(missing, collector)
        raise AssertionError(
            f"timed out after {timeout_s}s waiting for {what}{detail}\n{self.problems()}"
            f"\n{self.logs()}"
        )

    def whereabouts(self, missing: set[tuple[str, str]], collector: Collector) -> str:
        """Where the other readers saw the missing warnings, and how far each reader got.

        Tells a warning that was never written from one aborted or stuck behind an
        open transaction (a read_committed reader stops at the first open one).
        """
        topic = self.local.topics.warnings
        lines = []
        for reader in self.collectors:
            reader.drain(1)
            ends: dict[int, int] = {}
            found = []
            for body, (partition, offset) in zip(
                reader.seen[topic], reader.places[topic], strict=True
            ):
                ends[partition] = max(ends.get(partition, -1), offset)
                if (body.get("warning_id"), body.get("status")) in missing:
                    found.append((partition, offset))
            kind = "read_committed" if reader.committed else "read_uncommitted"
            mine = " (the waiting one)" if reader is collector else ""
            lines.append(
                f"\n  {kind} reader{mine}: last offset per partition {dict(sorted(ends.items()))}, "
                f"holds {len(found)} of the missing at {sorted(found)[:12]}"
            )
        return "".join(lines)

    def log_lines(self, *marks: str) -> list[str]:
        """Lines holding any of ``marks`` in every worker's whole log, named by worker."""
        return [
            f"{name}: {line[:300]}"
            for name in self.procs
            for line in self.log_text(name).splitlines()
            if any(mark in line for mark in marks)
        ]

    def problems(self) -> str:
        """Every WARNING/ERROR line of every worker's whole log (the tails below are cut)."""
        hits = self.log_lines("[WARNING]", "[ERROR]")
        return "----- warnings and errors in the worker logs -----\n" + "\n".join(hits[:60])

    def committed(self, topic: str | None = None) -> int:
        """Offsets the workers' consumer group (the app id) committed on a topic, summed."""
        from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
        from confluent_kafka.admin import AdminClient

        topic = topic or self.local.topics.events
        admin = AdminClient(self.local.kafka.confluent_config())
        request = ConsumerGroupTopicPartitions(
            self.local.app_id, [TopicPartition(topic, p) for p in range(self.partitions)]
        )
        future = admin.list_consumer_group_offsets([request])[self.local.app_id]
        return sum(max(tp.offset, 0) for tp in future.result(timeout=10).topic_partitions)

    def wait_committed(
        self, at_least: int, *, timeout_s: float = 60, alive: tuple[str, ...] = ()
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.committed() >= at_least:
                return
            self.alive(*alive)
            time.sleep(0.5)
        raise AssertionError(
            f"the group committed {self.committed()} < {at_least} offsets\n{self.logs()}"
        )

    # The shared helpers, reachable from tests through the fixture.
    def book(self, **spec: int) -> list[Any]:
        return reliability_book(**spec)

    def expected(self, events: list[Any]) -> list[dict[tuple[str, str], dict[str, Any]]]:
        return expected_warnings(self.local, events)

    def check(self, collector: Collector, expected: dict[Any, Any], **kw: Any) -> None:
        check_warnings(self, collector, expected, **kw)

    def has_all(self, expected: dict[Any, Any]) -> Any:
        return has_all(self, expected)

    def close(self) -> None:
        for collector in self.collectors:
            collector.close()
        for name in self.procs:
            self.stop(name)
        for log in self._logs.values():
            log.close()


def check_warnings(
    harness: WorkerHarness,
    collector: Collector,
    expected: dict[tuple[str, str], dict[str, Any]],
    *,
    exactly_once: bool = False,
    dead_letters: int = 0,
) -> None:
    """Every expected warning arrived with the expected body; repeats are identical; the
    DLQ holds ``dead_letters`` messages (none by default); and no worker skipped an input
    offset (streams/continuity.py logs each)."""
    topics = harness.local.topics
    skipped = harness.log_lines("were never judged")
    assert not skipped, "\n".join(skipped[:10])
    got: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for body in collector.seen[topics.warnings]:
        body = dict(body)
        body.pop("produced_at", None)
        got.setdefault((body.get("warning_id", "?"), body.get("status", "?")), []).append(body)
    assert len(collector.seen[topics.dlq]) == dead_letters, (
        f"dead letters: {collector.raw[topics.dlq][:5]}\n{harness.logs()}"
    )
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    assert not missing and not extra, (
        f"missing {len(missing)}: {missing[:10]}\nextra {len(extra)}: {extra[:10]}"
    )
    for key, bodies in got.items():
        assert bodies[0] == expected[key], (key, bodies[0], expected[key])
        # At-least-once repeats collapse by id: the same body every time.
        assert all(b == bodies[0] for b in bodies), (key, bodies)
        if exactly_once:
            assert len(bodies) == 1, f"{key} appeared {len(bodies)} times"


def has_all(harness: WorkerHarness, expected: dict[tuple[str, str], dict[str, Any]]) -> Any:
    topic = harness.local.topics.warnings

    class Condition:
        missing: set[tuple[str, str]] = set(expected)

        def __call__(self, collector: Collector) -> bool:
            got = {(w.get("warning_id"), w.get("status")) for w in collector.seen[topic]}
            self.missing = set(expected) - got
            return not self.missing

    return Condition()


@pytest.fixture
def harness(
    stack: list[local_stack.ServiceStatus],
    settings: Settings,
    reliability_env: dict[str, str],
    tmp_path: Path,
) -> Iterator[WorkerHarness]:
    running = WorkerHarness(settings, reliability_env, tmp_path)
    yield running
    running.close()


# -- A broker of a test's own: the shared stack's Kafka is never stopped by a test -------


class PrivateBroker:
    """A single-node Kafka (KRaft, as `loanwatch stack up` starts it) on free ports, with
    its own data folder under ``home``; killed and started again at will."""

    def __init__(self, settings: Settings, home: Path) -> None:
        from cli_support import closed_port

        port, controller = closed_port(), closed_port()
        while controller == port:
            controller = closed_port()
        self.address = f"127.0.0.1:{port}"
        self.settings = settings.model_copy(
            update={
                "stack": settings.stack.model_copy(
                    update={
                        "state_dir": home,
                        "kafka_port": port,
                        "kafka_controller_port": controller,
                        "kafka_heap": "256m",
                    }
                ),
                "kafka": settings.kafka.model_copy(update={"bootstrap_servers": self.address}),
            }
        )
        self.service = KafkaService(self.settings)

    def start(self) -> float:
        """Start it (its storage is formatted the first time); the seconds it took."""
        started = time.monotonic()
        self.service.start()
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL, as a crashed broker or a lost host: no controlled shutdown."""
        pid = self.service.pid()
        if pid is None:
            return
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while self.service.pid() is not None:  # reaps it too: this process started it
            assert time.monotonic() < deadline, f"broker {pid} outlived SIGKILL"
            time.sleep(0.1)


@pytest.fixture
def private_kafka(settings: Settings, tmp_path: Path) -> Iterator[PrivateBroker]:
    broker = PrivateBroker(settings, tmp_path / "private-stack")
    broker.start()
    yield broker
    broker.kill()


@pytest.fixture
def private_harness(
    private_kafka: PrivateBroker, reliability_env: dict[str, str], tmp_path: Path
) -> Iterator[WorkerHarness]:
    """`harness`, its workers and clients on the test's own broker instead of the stack's."""
    env = {**reliability_env, "LOANWATCH_KAFKA__BOOTSTRAP_SERVERS": private_kafka.address}
    running = WorkerHarness(private_kafka.settings, env, tmp_path)
    yield running
    running.close()
