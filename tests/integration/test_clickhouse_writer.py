"""The ClickHouse writer against the real stack: Kafka in, ClickHouse 18.16 out.

Each test has its own topic, consumer group and database, produces warnings in the
docs/warnings.md format, and drains a real writer until every message is handled.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from clickhouse_driver import Client
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from report_book import disbursement, store_same_day_book

from config import Settings
from sinks.clickhouse import (
    MIGRATIONS,
    TRANSITIONS,
    ClickHouseWriter,
    DrainResult,
    ServerFeatures,
    apply_migrations,
    migrate,
    row_of,
    run,
)
from sinks.clickhouse.loan_book import disbursed_on

PARTITIONS = 2  # the `topic` fixture's


def warning(n: int, status: str = "open", **changes: Any) -> dict[str, Any]:
    body = {
        "schema_version": 1,
        "warning_id": f"w{n:04d}",
        "status": status,
        "loan_id": f"L-{n % 7:06d}",
        "borrower_id": f"bw-{n % 7}",
        "rule_id": "dpd_30" if n % 2 else "bounced_debit",
        "rule_version": 1,
        "pack_digest": "9b1f",
        "severity": "high",
        "owner_team": "collections",
        "message": f"warning {n}",
        "episode": 1,
        "episode_key": "",
        "reasons": [{"name": "loan.dpd", "value": 30}],
        "score": 0.25 if n % 3 else None,
        "dpd": 30,
        "bucket": "M1",
        "klass": "special_mention",
        "event_id": None if n % 4 else f"e{n}",
        "event_time": f"2026-0{1 + n % 3}-04T16:00:00+00:00",
        "produced_at": "2026-03-05T00:00:02.113+00:00"
        if status == "open"
        else "2026-04-01T00:00:00+00:00",
    }
    body.update(changes)
    return body


def produce(settings: Settings, topic: str, values: list[bytes]) -> None:
    producer = Producer(settings.kafka.producer_config())
    for n, value in enumerate(values):
        producer.produce(topic, key=f"L-{n % 7}".encode(), value=value)
    assert producer.flush(30) == 0


def local(settings: Settings, clickhouse: Client, **changes: Any) -> Settings:
    database = clickhouse.execute("SELECT currentDatabase()")[0][0]
    return settings.model_copy(
        update={
            "clickhouse": settings.clickhouse.model_copy(update={"database": database, **changes})
        }
    )


def writer(settings: Settings, topic: str, group: str, **kw: Any) -> ClickHouseWriter:
    return ClickHouseWriter(
        settings,
        topics={topic: "warnings"},
        group_id=group,
        max_wait_s=0.5,
        backoff_initial_s=0.1,
        backoff_max_s=0.5,
        **kw,
    )


def drain(w: ClickHouseWriter, expected: int, timeout_s: float = 60) -> list[DrainResult]:
    """Drain until ``expected`` messages were consumed, then one more (empty) round."""
    results: list[DrainResult] = []
    deadline = time.monotonic() + timeout_s
    while sum(r.consumed for r in results) < expected:
        assert time.monotonic() < deadline, f"drained {results} of {expected}"
        results.append(w.drain_once())
    assert w.drain_once().consumed == 0  # nothing more: each message came once
    return results


def committed(settings: Settings, topic: str, group: str) -> int:
    """The group's committed offsets on the topic, summed (0 when none)."""
    consumer = Consumer({**settings.kafka.confluent_config(), "group.id": group})
    try:
        offsets = consumer.committed(
            [TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10
        )
    finally:
        consumer.close()
    return sum(max(tp.offset, 0) for tp in offsets)


def test_migrate_on_the_stack_server_applies_once(settings: Settings, clickhouse: Client) -> None:
    target = local(settings, clickhouse)
    assert migrate(target) == list(MIGRATIONS)
    assert migrate(target) == []
    recorded = clickhouse.execute("SELECT version, name FROM schema_migrations ORDER BY version")
    assert recorded == [(m.version, m.name) for m in MIGRATIONS]
    tables = {row[0] for row in clickhouse.execute("SHOW TABLES")}
    assert {"warnings", "transitions", "actions", "dead_letters"} <= tables


def test_transition_state_is_added_to_a_table_holding_older_rows_and_filled_from_then(
    settings: Settings, clickhouse: Client, topic: str, unique: str
) -> None:
    """A database from before migration 6 keeps its rows; new transitions carry state."""
    target = local(settings, clickhouse)
    database = target.clickhouse.database
    features = ServerFeatures.of(clickhouse)
    before = [m for m in MIGRATIONS if not m.added]
    assert apply_migrations(clickhouse, features, database, before) == before
    old = {"schema_version": 1, "loan_id": "L1", "kind": "bucket", "from": "M0", "to": "M1"}
    clickhouse.execute(
        "INSERT INTO transitions (loan_id, kind, from_label, to_label, effective_on, event_id, "
        "schema_version) VALUES",
        [("L1", "bucket", "M0", "M1", date(2026, 3, 2), None, 1)],
    )
    assert [m.version for m in migrate(target)] == [6]
    assert migrate(target) == []
    doc = (Path(__file__).parents[2] / "docs" / "warnings.md").read_text()
    section = doc.split("## `risk.transitions`")[1]
    new = orjson.loads(re.findall(r"```json\n(.*?)```", section, re.S)[0])  # L-000123
    still_old = {**old, "loan_id": "L3", "on": "2026-03-09", "event_id": "e3"}
    produce_to_partition(target, topic, [orjson.dumps(new), orjson.dumps(still_old)])
    w = ClickHouseWriter(target, topics={topic: "transitions"}, group_id=f"test-{unique}")
    try:
        drain(w, 2)
    finally:
        w.close()
    rows = clickhouse.execute(
        "SELECT loan_id, borrower_id, dpd, bucket, klass, toUnixTimestamp(event_time), "
        "toUnixTimestamp(produced_at) FROM transitions ORDER BY loan_id"
    )
    assert rows == [
        ("L-000123", "bw-7f3a9c", 31, "M2", "special_mention", 1775145600, 1775174401),
        ("L1", None, None, None, None, None, None),
        ("L3", None, None, None, None, None, None),
    ]
    assert clickhouse.execute("SELECT count() FROM dead_letters") == [(0,)]


def test_redelivered_warnings_collapse_and_open_and_resolved_both_persist(
    settings: Settings, clickhouse: Client, topic: str, unique: str
) -> None:
    target = local(settings, clickhouse)
    migrate(target)
    bodies = [warning(n) for n in range(40)] + [warning(n, "resolved") for n in range(0, 40, 3)]
    copies = [warning(n) for n in range(0, 40, 4)]  # at-least-once repeats, same id and body
    values = [orjson.dumps(b) for b in bodies + copies]
    produce(target, topic, values)
    group = f"test-{unique}"
    w = writer(target, topic, group, max_rows=17)  # several batches
    try:
        results = drain(w, len(values))
    finally:
        w.close()
    assert all(r.committed for r in results if r.consumed)
    assert sum(r.inserted.get("warnings", 0) for r in results) == len(values)
    distinct = {(b["warning_id"], b["status"]) for b in bodies}
    assert clickhouse.execute("SELECT count() FROM warnings FINAL")[0][0] == len(distinct)
    assert clickhouse.execute(
        "SELECT countIf(status = 'open'), countIf(status = 'resolved') FROM warnings FINAL"
    ) == [(40, 14)]
    assert committed(target, topic, group) == len(values)
    assert clickhouse.execute("SELECT count() FROM dead_letters")[0][0] == 0


def test_bad_rows_go_to_dead_letters_with_a_reason_and_the_rest_is_inserted(
    settings: Settings, clickhouse: Client, topic: str, unique: str
) -> None:
    target = local(settings, clickhouse)
    migrate(target)
    good = [orjson.dumps(warning(n)) for n in range(30)]
    refused_by_clickhouse = orjson.dumps(warning(900, dpd=-5))  # UInt32 cannot hold it
    not_json = b"{this is not json"
    incomplete = orjson.dumps({k: v for k, v in warning(901).items() if k != "rule_id"})
    values = good[:10] + [refused_by_clickhouse] + good[10:20] + [not_json, incomplete] + good[20:]
    produce(target, topic, values)
    group = f"test-{unique}"
    w = writer(target, topic, group, max_rows=1000)
    try:
        results = drain(w, len(values))
    finally:
        w.close()
    assert sum(r.dead_letters for r in results) == 3
    assert clickhouse.execute("SELECT count() FROM warnings FINAL")[0][0] == 30
    assert clickhouse.execute("SELECT count() FROM warnings WHERE warning_id = 'w0900'") == [(0,)]
    letters = {
        raw: (reason, target_table)
        for raw, reason, target_table in clickhouse.execute(
            "SELECT raw, reason, target FROM dead_letters FINAL"
        )
    }
    assert set(letters) == {v.decode() for v in (refused_by_clickhouse, not_json, incomplete)}
    assert "out of range" in letters[refused_by_clickhouse.decode()][0]
    assert letters[not_json.decode()][0].startswith("not JSON")
    assert letters[incomplete.decode()][0] == "missing field 'rule_id'"
    assert {t for _, t in letters.values()} == {"warnings"}
    assert committed(target, topic, group) == len(values)


class CountingClient(Client):  # type: ignore[misc]
    """A driver client that counts insert attempts, to see a writer retrying.

    ``inserts`` lists each attempt's table and row count.
    """

    attempts = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inserts: list[tuple[str, int]] = []

    def execute(self, query: str, *args: Any, **kwargs: Any) -> Any:
        if query.startswith("INSERT"):
            self.attempts += 1
            table = query.split()[2].rsplit(".", 1)[-1]
            self.inserts.append((table, len(args[0][0]) if args and args[0] else 0))
        return super().execute(query, *args, **kwargs)


def test_halving_isolates_each_refused_row_in_few_inserts_and_letters_keep_positions(
    settings: Settings, clickhouse: Client, topic: str, unique: str
) -> None:
    target = local(settings, clickhouse)
    migrate(target)
    bodies = [warning(n) for n in range(16)]
    bodies[5] = warning(905, dpd=-5)  # UInt32 cannot hold either
    bodies[12] = warning(912, dpd=-7)
    produce_to_partition(target, topic, [orjson.dumps(b) for b in bodies])
    group = f"test-{unique}"
    client = CountingClient(**target.clickhouse.driver_kwargs())
    w = writer(target, topic, group, max_rows=1000, client=client)
    try:
        results = drain(w, len(bodies))
    finally:
        w.close()
    [result] = [r for r in results if r.consumed]
    assert result.inserted["warnings"] == 14 and result.dead_letters == 2 and result.committed
    # One try of 16, then halves down to each bad row: far fewer than one per row.
    tries = [rows for table, rows in client.inserts if table == "warnings"]
    assert tries[0] == 16 and len(tries) <= 2 * 2 * 4 + 1
    stored = {w for (w,) in clickhouse.execute("SELECT warning_id FROM warnings")}
    assert len(stored) == 14 and not {"w0905", "w0912"} & stored
    letters = clickhouse.execute(
        "SELECT kafka_partition, kafka_offset, reason FROM dead_letters FINAL ORDER BY kafka_offset"
    )
    assert [(p, o) for p, o, _ in letters] == [(0, 5), (0, 12)]
    assert all("out of range" in reason for _, _, reason in letters)
    assert committed(target, topic, group) == len(bodies)


def produce_to_partition(settings: Settings, topic: str, values: list[bytes]) -> None:
    """Every value into partition 0, in order: Kafka offsets are then list positions."""
    producer = Producer(settings.kafka.producer_config())
    for value in values:
        producer.produce(topic, value=value, partition=0)
    assert producer.flush(30) == 0


class SlowClient(Client):  # type: ignore[misc]
    """A driver client whose next insert takes ``delay_s`` longer: a ClickHouse under load."""

    delay_s = 0.0

    def execute(self, query: str, *args: Any, **kwargs: Any) -> Any:
        result = super().execute(query, *args, **kwargs)
        if query.startswith("INSERT"):
            time.sleep(self.delay_s)
            self.delay_s = 0.0
        return result


@pytest.mark.timeout(180)
def test_a_commit_kafka_refuses_after_a_slow_insert_is_reported_and_the_batch_redelivered(
    settings: Settings, clickhouse: Client, topic: str, unique: str
) -> None:
    """The insert outlasts the group's poll interval, so Kafka refuses the commit.

    The writer says so (``committed`` False) instead of raising; the group redelivers
    the batch, and ``FINAL`` still shows every warning once.
    """
    target = local(settings, clickhouse)
    migrate(target)
    values = [orjson.dumps(warning(n)) for n in range(10)]
    # One partition: one fetch brings them all, so the first (slow) batch is all of
    # them. Spread over two, one partition's fetch could miss the batch's window.
    produce_to_partition(target, topic, values)
    group = f"test-{unique}"
    consumer = Consumer(
        {
            **target.kafka.confluent_config(),
            "group.id": group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "max.poll.interval.ms": 6000,  # the shortest a broker allows
        }
    )
    consumer.subscribe([topic])
    client = SlowClient(**target.clickhouse.driver_kwargs())
    w = writer(target, topic, group, max_rows=1000, client=client, consumer=consumer)
    try:
        client.delay_s = 8.0  # past max.poll.interval.ms: the consumer leaves the group
        first = w.drain_once()
        while not first.consumed:
            first = w.drain_once()
        assert first.inserted["warnings"] == len(values) and not first.committed
        assert committed(target, topic, group) == 0
        drain(w, len(values))
    finally:
        w.close()
    assert committed(target, topic, group) == len(values)
    assert clickhouse.execute("SELECT count() FROM warnings FINAL")[0][0] == len(values)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.timeout(180)
def test_offsets_are_committed_only_after_clickhouse_took_the_batch(
    settings: Settings, clickhouse: Client, topic: str, unique: str
) -> None:
    target = local(settings, clickhouse)
    migrate(target)
    values = [orjson.dumps(warning(n)) for n in range(25)]
    produce(target, topic, values)
    group = f"test-{unique}"

    # A writer whose ClickHouse is unreachable consumes the batch, retries, and is
    # stopped: it must commit nothing.
    down = target.clickhouse.model_copy(update={"port": free_port(), "connect_timeout_s": 1.0})
    stop = threading.Event()
    client = CountingClient(**down.driver_kwargs())
    broken = writer(target, topic, group, max_rows=1000, stop_event=stop, client=client)
    outcome: list[DrainResult] = []

    def attempt() -> None:
        while not stop.is_set():
            result = broken.drain_once()
            if result.consumed:
                outcome.append(result)
                return

    thread = threading.Thread(target=attempt)
    thread.start()
    deadline = time.monotonic() + 60
    while client.attempts < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    thread.join(30)
    broken.close()
    assert client.attempts >= 3, "the writer never tried to insert"
    assert len(outcome) == 1 and outcome[0].consumed == len(values)
    assert not outcome[0].committed and outcome[0].retries >= 2
    assert committed(target, topic, group) == 0
    assert clickhouse.execute("SELECT count() FROM warnings")[0][0] == 0

    # The same group with ClickHouse reachable gets everything, once.
    healthy = writer(target, topic, group, max_rows=1000)
    try:
        drain(healthy, len(values))
    finally:
        healthy.close()
    assert clickhouse.execute("SELECT count() FROM warnings")[0][0] == len(values)
    assert committed(target, topic, group) == len(values)


class Proxy:
    """A TCP forwarder to the stack's ClickHouse that a test can open late.

    Until `open` is called the port refuses connections, as a stopped server's would;
    the stack's own server is shared and must never be stopped.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.sockets: list[socket.socket] = []

    def open(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        self.sockets.append(listener)
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                near, _ = listener.accept()
            except OSError:
                return
            far = socket.create_connection(self.upstream)
            self.sockets += [near, far]
            for a, b in ((near, far), (far, near)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        for s in self.sockets:
            s.close()


@pytest.mark.timeout(180)
def test_a_writer_keeps_its_batch_while_clickhouse_is_away_and_catches_up(
    settings: Settings, clickhouse: Client, topic: str, unique: str
) -> None:
    target = local(settings, clickhouse)
    migrate(target)
    values = [orjson.dumps(warning(n)) for n in range(20)]
    produce(target, topic, values)
    group = f"test-{unique}"
    proxy = Proxy((settings.clickhouse.host, settings.clickhouse.port))
    away = target.clickhouse.model_copy(update={"port": proxy.port, "connect_timeout_s": 1.0})
    client = CountingClient(**away.driver_kwargs())
    w = writer(target, topic, group, max_rows=1000, client=client)
    outcome: list[DrainResult] = []

    def attempt() -> None:
        while not outcome:
            result = w.drain_once()
            if result.consumed:
                outcome.append(result)

    thread = threading.Thread(target=attempt)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while client.attempts < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.attempts >= 3, "the writer never tried to insert"
        assert committed(target, topic, group) == 0  # nothing while ClickHouse is away
        proxy.open()  # ClickHouse is back
        thread.join(60)
        assert outcome and outcome[0].committed and outcome[0].retries >= 2
        assert outcome[0].inserted["warnings"] == len(values)
        # Every attempt carried the whole batch: nothing was split or dropped meanwhile.
        assert {rows for table, rows in client.inserts if table == "warnings"} == {len(values)}
        assert clickhouse.execute("SELECT count() FROM warnings")[0][0] == len(values)
        assert committed(target, topic, group) == len(values)
    finally:
        w.stop_event.set()
        thread.join(30)
        w.close()
        proxy.close()


def doc_queries() -> list[str]:
    text = (Path(__file__).parents[2] / "docs" / "analytics.md").read_text()
    return re.findall(r"```sql\n(.*?)```", text, flags=re.DOTALL)


def insert_moves(clickhouse: Client, moves: list[tuple[str, str, str, str]]) -> None:
    """Bucket transitions (loan, from, to, day) inserted as the writer would store them."""
    bodies = [
        {"schema_version": 1, "loan_id": loan, "kind": "bucket", "from": a, "to": b, "on": on}
        for loan, a, b, on in moves
    ]
    columns = ", ".join(c.name for c in TRANSITIONS.columns)
    clickhouse.execute(
        f"INSERT INTO transitions ({columns}) VALUES",  # noqa: S608 - our names
        [row_of("transitions", orjson.dumps({**body, "event_id": None})) for body in bodies],
    )


def test_the_documented_queries_run_on_the_stack_server_and_answer_right(
    settings: Settings, clickhouse: Client, topic: str, unique: str
) -> None:
    queries = doc_queries()[:4]  # the outputs' own; the book's are tested below
    target = local(settings, clickhouse)
    migrate(target)
    bodies = [warning(n) for n in range(10)] + [warning(n, "resolved") for n in (0, 3, 6, 9)]
    values = [orjson.dumps(b) for b in bodies + bodies[:3]] + [b"not json"]
    produce(target, topic, values)
    w = writer(target, topic, f"test-{unique}", max_rows=1000)
    try:
        drain(w, len(values))
    finally:
        w.close()
    insert_moves(
        clickhouse,
        [
            ("L1", "C", "M1", "2026-02-03"),
            ("L2", "C", "M1", "2026-02-09"),
            ("L1", "M1", "M2", "2026-03-05"),
            ("L1", "M1", "M2", "2026-03-05"),  # a redelivery
        ],
    )
    open_by_rule, per_team_day, bucket_moves, dead = (clickhouse.execute(q) for q in queries)
    # Opened 0..9, resolved 0, 3, 6, 9: still open 1, 5, 7 (dpd_30) and 2, 4, 8 (bounced_debit).
    assert open_by_rule == [("bounced_debit", "high", 3), ("dpd_30", "high", 3)]
    assert sum(n for _, team, n in per_team_day if team == "collections") == 10
    assert [(str(m), a, b, n) for m, a, b, n in bucket_moves] == [
        ("2026-02-01", "C", "M1", 2),
        ("2026-03-01", "M1", "M2", 1),
    ]
    assert len(dead) == 1 and dead[0][0] == "warnings" and dead[0][2] == 1


def drain_book(settings: Settings, topic: str, events: str, group: str, expected: int) -> None:
    """Run a writer over the warnings and the events topic (the book) until drained."""
    w = ClickHouseWriter(
        settings, topics={topic: "warnings", events: "loans"}, group_id=group, max_wait_s=0.5
    )
    try:
        drain(w, expected)
    finally:
        w.close()


@pytest.fixture
def events(topic: str, kafka_admin: AdminClient) -> Iterator[str]:
    """A one-partition events topic beside ``topic`` (the book's source), deleted afterwards."""
    name = f"{topic}.e"
    kafka_admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])[
        name
    ].result(timeout=30)
    yield name
    kafka_admin.delete_topics([name])


BOOK = {"L1": "2026-01-05", "L2": "2026-01-20", "L3": "2026-02-03", "L4": "2026-02-10"}
MOVES = [  # bucket transitions: loan, from, to, day
    ("L1", "M0", "M1", "2026-02-06"),
    ("L1", "M1", "M2", "2026-03-08"),
    ("L1", "M2", "M3", "2026-04-07"),
    ("L1", "M3", "M4", "2026-05-07"),
    ("L2", "M0", "M1", "2026-02-21"),
    ("L2", "M1", "M0", "2026-02-25"),  # cured
    ("L3", "M0", "M1", "2026-03-04"),
    ("L3", "M1", "M2", "2026-04-05"),
]


def bucket_on(loan: str, day: date) -> str | None:
    """The offline answer: M0 from disbursement, then each move from its day."""
    if date.fromisoformat(BOOK[loan]) > day:
        return None
    bucket = "M0"
    for who, _, to, on in sorted(MOVES, key=lambda m: m[3]):
        if who == loan and date.fromisoformat(on) <= day:
            bucket = to
    return bucket


def set_period(query: str, name: str, day: str) -> str:
    """A documented period query with its period set by hand, as docs/analytics.md says."""
    lines = [line for line in query.splitlines() if f"AS {name}" in line]
    assert len(lines) == 1, (name, lines)
    indent = lines[0][: len(lines[0]) - len(lines[0].lstrip())]
    return query.replace(lines[0], f"{indent}toDate('{day}') AS {name}")


def expected_daily(first: date, last: date) -> list[tuple[date, str, int, float]]:
    """The daily query's rows from ``first`` to ``last``, worked out offline."""
    rows = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        states = [s for s in (bucket_on(loan, day) for loan in BOOK) if s is not None]
        for bucket in sorted(set(states) - {"M0"}):
            n = states.count(bucket)
            rows.append((day, bucket, n, round(n / len(states), 4)))
    return rows


def expected_rolls(months: list[date]) -> list[tuple[date, str, str, int, float]]:
    """The roll-rate query's rows for ``months``, worked out offline."""
    moved: dict[tuple[date, str, str], int] = {}
    for month in months:
        end = date(month.year, month.month + 1, 1) - timedelta(days=1)
        after = date(month.year, month.month + 2, 1) - timedelta(days=1)
        for loan in BOOK:
            now = bucket_on(loan, end)
            if now is not None:
                key = (month, now, bucket_on(loan, after) or "")
                moved[key] = moved.get(key, 0) + 1
    cohorts = {
        (m, a): sum(n for (m2, a2, _), n in moved.items() if (m2, a2) == (m, a))
        for m, a, _ in moved
    }
    return [(m, a, b, n, round(n / cohorts[(m, a)], 4)) for (m, a, b), n in sorted(moved.items())]


def test_the_book_queries_answer_what_the_step_functions_say(
    settings: Settings, clickhouse: Client, topic: str, unique: str, events: str
) -> None:
    target = local(settings, clickhouse)
    migrate(target)
    repayment = {"type": "repayment_received", "loan_id": "L1", "event_id": "r1"}
    produce(
        target,
        events,
        [orjson.dumps(disbursement(loan, on)) for loan, on in BOOK.items()]
        + [orjson.dumps(repayment), orjson.dumps(disbursement("L1", BOOK["L1"]))],
    )
    opened = [  # rule, loan, day, score
        ("dpd_30", "L1", "2026-03-08", None),
        ("dpd_30", "L3", "2026-04-05", None),
        ("bounced_debit", "L2", "2026-02-22", None),
        ("bounced_debit", "L4", "2026-02-15", None),
        ("bounced_debit", "L1", "2026-05-20", None),  # after L1 went bad: not "later"
        ("written_off", "L3", "2026-06-01", None),
        ("high_pd", "L2", "2026-02-23", 0.4),
        ("high_pd", "L4", "2026-02-24", 0.6),
    ]
    bodies = [
        warning(n, loan_id=loan, rule_id=rule, event_time=f"{day}T08:00:00+00:00", score=score)
        for n, (rule, loan, day, score) in enumerate(opened)
    ]
    produce(target, topic, [orjson.dumps(b) for b in bodies])
    drain_book(target, topic, events, f"test-{unique}", len(BOOK) + 2 + len(bodies))
    insert_moves(clickhouse, MOVES + MOVES[:2])  # with redeliveries
    assert clickhouse.execute("SELECT loan_id, disbursed_on FROM loans FINAL ORDER BY loan_id") == [
        (loan, date.fromisoformat(on)) for loan, on in sorted(BOOK.items())
    ]
    assert disbursed_on(clickhouse, "L1") == date(2026, 1, 5)  # what `lookup` asks
    assert disbursed_on(clickhouse, "L-nope") is None
    daily_query, rolls_query = doc_queries()[4:6]
    daily, rolls, vintages, precision, scores = (clickhouse.execute(q) for q in doc_queries()[4:9])

    # By default the data's last month, to its last day (the move of 2026-05-07).
    assert daily == expected_daily(date(2026, 5, 1), date(2026, 5, 7))
    march = set_period(daily_query, "first_day", "2026-03-01")
    assert clickhouse.execute(march) == expected_daily(date(2026, 3, 1), date(2026, 3, 31))
    # By default the last three months whose next month ends within the data: May is
    # not over, so March to April is the last roll. Set by hand past it, rolls stop there.
    assert rolls == expected_rolls([date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)])
    late = set_period(rolls_query, "first_month", "2026-03-01")
    assert clickhouse.execute(late) == expected_rolls([date(2026, 3, 1)])
    # L1 (January) and L3 (February) first reach M2 two months after their payout.
    # The data runs to 2026-05-07: January to 4 months on book, February to 3.
    assert vintages == [
        (date(2026, 1, 1), mob, 2, 0.5 if mob >= 2 else 0.0) for mob in range(5)
    ] + [(date(2026, 2, 1), mob, 2, 0.5 if mob >= 2 else 0.0) for mob in range(4)]
    # dpd_30: L1 reached M4, L3 was written off. bounced_debit: L1's warning came after.
    assert precision == [
        ("bounced_debit", 3, 0, 0.0),
        ("dpd_30", 2, 2, 1.0),
        ("high_pd", 2, 0, 0.0),
    ]
    assert scores == [(date(2026, 2, 1), "high_pd", 2, 2, 0.5, 0.6)]


def test_a_loan_moved_twice_on_one_day_ends_the_day_in_its_last_change(
    settings: Settings, clickhouse: Client
) -> None:
    """The daily and roll-rate queries take a day's last change, in whatever order stored."""
    migrate(local(settings, clickhouse))
    store_same_day_book(clickhouse)
    daily_query, rolls_query = doc_queries()[4:6]
    february = clickhouse.execute(set_period(daily_query, "first_day", "2026-02-01"))
    # Only L3 is past M0 from 2026-02-03: L1 and L2 were cured on the day they fell behind.
    assert february == [(date(2026, 2, day), "M1", 1, round(1 / 3, 4)) for day in range(3, 29)]
    # The data runs to 2026-03-02: January to February is the last roll.
    assert clickhouse.execute(rolls_query) == [
        (date(2026, 1, 1), "M0", "M0", 2, round(2 / 3, 4)),
        (date(2026, 1, 1), "M0", "M1", 1, round(1 / 3, 4)),
    ]


def label(n: int, note: str, intent: str, at: str, **changes: Any) -> dict[str, Any]:
    """A docs/events.md ``note_labelled`` event for note ``note``, given at ``at`` (+08:00)."""
    return {
        "type": "note_labelled",
        "event_id": f"lab-{n}",
        "loan_id": "L1",
        "borrower_id": "bw-L1",
        "event_time": f"{at}+08:00",
        "source": "collection-system",
        "schema_version": 1,
        "note_event_id": note,
        "intent": intent,
        "text": "Borrower lost job in March, asks for two weeks.",
        "labelled_by": "collections-qa",
        **changes,
    }


def test_collectors_labels_reach_note_labels_and_judge_the_note_rules(
    settings: Settings, clickhouse: Client, topic: str, unique: str, events: str
) -> None:
    target = local(settings, clickhouse)
    migrate(target)
    note = {"type": "collection_note", "loan_id": "L1", "event_id": "n1", "text": "..."}
    labels = [
        label(1, "n1", "hardship", "2026-03-10T09:00:00"),
        label(2, "n2", "other", "2026-03-10T09:05:00"),  # relabelled below
        label(3, "n3", "refusal", "2026-03-10T09:10:00"),
        label(4, "n2", "refusal", "2026-03-12T17:00:00"),  # the later label counts
        label(5, "n4", "angry", "2026-03-12T17:05:00"),  # not an intent: dead letter
        label(6, "n5", "unreachable", "2026-03-13T10:00:00"),
    ]
    book = [disbursement("L1"), note, *labels, labels[0]]  # and a redelivery
    produce(target, events, [orjson.dumps(b) for b in book])
    opened = [  # rule, the note it read
        ("note_hardship", "n1"),
        ("note_refusal", "n2"),
        ("note_hardship", "n3"),  # the collector read refusal
        ("note_dispute", "n9"),  # never labelled: not judged
        ("note_unreachable", "n5"),
    ]
    warnings = [
        warning(n, loan_id="L1", rule_id=rule, event_id=note_id)
        for n, (rule, note_id) in enumerate(opened)
    ]
    produce(target, topic, [orjson.dumps(w) for w in warnings])
    drain_book(target, topic, events, f"test-{unique}", len(book) + len(warnings))
    stored = clickhouse.execute(
        "SELECT event_id, note_event_id, intent, labelled_by, toUnixTimestamp(labelled_at) "
        "FROM note_labels FINAL ORDER BY event_id"
    )
    assert stored == [
        ("lab-1", "n1", "hardship", "collections-qa", 1773104400),  # 2026-03-10 01:00 UTC
        ("lab-2", "n2", "other", "collections-qa", 1773104700),
        ("lab-3", "n3", "refusal", "collections-qa", 1773105000),
        ("lab-4", "n2", "refusal", "collections-qa", 1773306000),
        ("lab-6", "n5", "unreachable", "collections-qa", 1773367200),
    ]
    assert clickhouse.execute("SELECT loan_id FROM loans FINAL") == [("L1",)]
    dead = clickhouse.execute("SELECT target, reason FROM dead_letters")
    assert dead == [
        (
            "note_labels",
            "field 'intent': 'angry' is not one of promise_to_pay, hardship, dispute, "
            "refusal, unreachable, other",
        )
    ]
    (query,) = [q for q in doc_queries() if "note_labels" in q]
    assert clickhouse.execute(query) == [
        ("note_hardship", 2, 1, 0.5),
        ("note_refusal", 1, 1, 1.0),
        ("note_unreachable", 1, 1, 1.0),
    ]


@pytest.mark.timeout(120)
def test_run_writes_all_three_output_topics_until_stopped(
    settings: Settings, clickhouse: Client, topic: str, unique: str, kafka_admin: AdminClient
) -> None:
    names = {
        "warnings": topic,
        "transitions": f"{topic}.t",
        "actions": f"{topic}.a",
        "events": f"{topic}.e",  # the writer reads disbursements from the events topic
    }
    created = kafka_admin.create_topics(
        [
            NewTopic(names[n], num_partitions=1, replication_factor=1)
            for n in ("transitions", "actions", "events")
        ]
    )
    for future in created.values():
        future.result(timeout=30)
    try:
        target = local(settings, clickhouse).model_copy(
            update={
                "app_id": f"test-{unique}",
                "topics": settings.topics.model_copy(update=names),
            }
        )
        migrate(target)
        produce(target, names["warnings"], [orjson.dumps(warning(1))])
        transition = {
            "schema_version": 1,
            "loan_id": "L1",
            "kind": "klass",
            "from": "normal",
            "to": "special_mention",
            "on": "2026-03-05",
            "event_id": "e1",
        }
        produce(target, names["transitions"], [orjson.dumps(transition)])
        action = {
            "schema_version": 1,
            "action_id": "a1",
            "kind": "review",
            "name": "periodic",
            "loan_id": "L1",
            "borrower_id": "b1",
            "due_on": "2026-03-05",
            "reason": "workflow",
            "params": {},
            "event_id": None,
            "produced_at": "2026-03-05T00:00:00+00:00",
        }
        produce(target, names["actions"], [orjson.dumps(action)])
        repayment = {"type": "repayment_received", "event_id": "e2", "loan_id": "L1"}
        produce(
            target, names["events"], [orjson.dumps(disbursement("L1")), orjson.dumps(repayment)]
        )
        stop = threading.Event()
        thread = threading.Thread(target=run, args=(target, stop), kwargs={"max_wait_s": 0.2})
        thread.start()
        try:
            deadline = time.monotonic() + 60
            counts: list[Any] = []
            while time.monotonic() < deadline:
                counts = clickhouse.execute(
                    "SELECT (SELECT count() FROM warnings), (SELECT count() FROM transitions), "
                    "(SELECT count() FROM actions), (SELECT count() FROM loans)"
                )
                if counts == [(1, 1, 1, 1)]:
                    break
                time.sleep(0.2)
            assert counts == [(1, 1, 1, 1)]
        finally:
            stop.set()
            thread.join(30)
        assert not thread.is_alive(), "run() did not return after the stop event"
        assert clickhouse.execute("SELECT from_label, to_label FROM transitions") == [
            ("normal", "special_mention")
        ]
        assert committed(target, names["warnings"], f"test-{unique}-clickhouse") == 1
        assert committed(target, names["events"], f"test-{unique}-clickhouse") == 2
        assert clickhouse.execute("SELECT count() FROM dead_letters") == [(0,)]
    finally:
        kafka_admin.delete_topics([names["transitions"], names["actions"], names["events"]])


def test_times_reach_every_table_exactly_whatever_their_offset(
    settings: Settings, clickhouse: Client, topic: str, unique: str
) -> None:
    """Times go as datetimes in a table's first insert, then as the integers it stores.

    One message per batch, so each table gets both; both must store the same instants.
    """
    target = local(settings, clickhouse)
    migrate(target)
    first = warning(1, event_time="2026-03-05T00:30:00+08:00", score=0.5)
    second = warning(2, event_time="2026-03-04T16:30:00+00:00", score=0.7)
    for body in (first, second):
        body["produced_at"] = "2026-03-05T00:00:02.913+00:00"
    values = [first, disbursement("L9"), second, disbursement("L8", on="2026-01-06")]
    produce_to_partition(target, topic, [orjson.dumps(v) for v in values])
    started = int(time.time())
    for table in ("warnings", "loans"):  # a disbursement is a dead letter for warnings
        w = ClickHouseWriter(
            target, topics={topic: table}, group_id=f"test-{unique}-{table}", max_rows=1
        )
        try:
            drain(w, len(values))
            assert w._units[table], "the later batches did not send integers"
        finally:
            w.close()
    event_time = int(datetime(2026, 3, 4, 16, 30, tzinfo=UTC).timestamp())
    produced_at = int(datetime(2026, 3, 5, 0, 0, 2, tzinfo=UTC).timestamp())
    for table in ("warnings", "model_scores"):
        assert (
            clickhouse.execute(
                f"SELECT toUnixTimestamp(event_time), toUnixTimestamp(produced_at) FROM {table}"  # noqa: S608
            )
            == [(event_time, produced_at)] * 2
        )
    assert clickhouse.execute(
        "SELECT toUnixTimestamp(disbursed_at), disbursed_on FROM loans ORDER BY loan_id DESC"
    ) == [  # 09:30 at +08:00
        (int(datetime(2026, 1, 5, 1, 30, tzinfo=UTC).timestamp()), date(2026, 1, 5)),
        (int(datetime(2026, 1, 6, 1, 30, tzinfo=UTC).timestamp()), date(2026, 1, 6)),
    ]
    failed = clickhouse.execute("SELECT toUnixTimestamp(failed_at) FROM dead_letters")
    assert len(failed) == 2
    assert all(started <= at <= time.time() + 1 for (at,) in failed)
