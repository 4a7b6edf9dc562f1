"""Sink benchmark: the ClickHouse and Redis writers against their bare clients, same run.

1. N synthetic warnings (docs/warnings.md, about ten per loan, a third resolved,
   every third carrying a model score) are preloaded into a fresh topic.
2. ClickHouse, bare: the same rows, already converted, in one columnar insert
   of all N (clickhouse-driver, native protocol): the ceiling for this server.
   The times go as the epoch integers the columns store, as the writer sends
   them, which spares the driver its own per-value conversion: the ratio's
   baseline. The same insert with the times as datetimes is reported too
   (``clickhouse_bare_datetime_rows_per_s``), the baseline of earlier figures.
3. ClickHouse, writer: `ClickHouseWriter` in its own group reads the topic,
   parses, inserts per batch (with the derived ``model_scores`` rows) and
   commits; timed from its first commit to its last, as bench/stream.py times
   the worker (joining the group is start-up, not throughput).
   Two figures beside it frame what any writer of another design could reach
   (docs/analytics.md, Throughput): polling alone (`sinks.source.poll_batch`
   over the same topic in a fresh group, nothing else), and the same messages
   parsed by the server instead of Python: one columnar insert of the raw
   message texts into a ``Null`` table whose materialized view extracts the
   columns (``visitParamExtract*``, which 18.16 has) into a copy of
   ``warnings``; the rows it stores are checked equal to the bare insert's.
   A third, decoding alone (``orjson.loads`` of each message, no check, no
   row), gives ``clickhouse_serial_ceiling_ratio``: the ratio of a writer that
   polls, decodes and makes the bare insert one after the other and does
   nothing else, i.e. the best a writer that parses JSON in Python reaches on
   this machine unless it overlaps those steps (the GIL leaves only the
   server's share of the insert to overlap).
4. Redis, bare: the same warnings, already parsed, applied by the writer's own
   Lua script in one pipeline of all N: the same Redis work with no Kafka, no
   parsing, no batching and one round trip.
5. Redis, writer: `RedisWriter` in its own group, timed the same way.

    .venv/bin/python bench/sink_writers.py --warnings 100000

Starts the local stack if it is not up; removes its topic, database and keys.
Ends with one JSON line:
{"clickhouse_rows_per_s": .., "clickhouse_ratio_vs_bare": .., "redis_warnings_per_s": ..,
 "redis_ratio_vs_bare": .., ...}
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Run as a script, this file's folder leads sys.path, and its name would hide the
# `sinks` package it measures.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import orjson  # noqa: E402
import redis  # noqa: E402
from clickhouse_driver import Client  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from config import Settings, load_settings  # noqa: E402
from config import stack as local_stack  # noqa: E402
from sinks.clickhouse import WARNINGS, ClickHouseWriter, Column, Kind, migrate, row_of  # noqa: E402
from sinks.clickhouse.tables import columnar  # noqa: E402
from sinks.redis import RedisWriter, parse_warning  # noqa: E402
from sinks.source import batch_consumer, poll_batch  # noqa: E402

SEVERITIES = ("info", "low", "medium", "high", "critical")


def synthetic(count: int) -> list[bytes]:
    """``count`` warning messages: opens, and a resolution for every third."""
    out: list[bytes] = []
    n = 0
    while len(out) < count:
        loan = n // 10
        body = {
            "schema_version": 1,
            "warning_id": f"{n:024x}",
            "status": "open",
            "loan_id": f"L-{loan:07d}",
            "borrower_id": f"bw-{loan // 2:06x}",
            "rule_id": ("dpd_30", "high_pd", "partial_payment", "bureau_delinquency")[n % 4],
            "rule_version": 1,
            "pack_digest": "9b1f" * 16,
            "severity": SEVERITIES[n % 5],
            "owner_team": ("collections", "risk-review", "fraud")[n % 3],
            "message": f"L-{loan:07d} is {n % 120} days past due",
            "episode": 1,
            "episode_key": "",
            "reasons": [{"name": "loan.dpd", "value": n % 120}],
            "score": round((n % 97) / 100, 2) if n % 3 == 0 else None,
            "dpd": n % 120,
            "bucket": f"M{min(n % 120 // 30, 6)}",
            "klass": "special_mention",
            "event_id": f"e-{n}",
            # A live stream: this month's events (a month is a partition).
            "event_time": f"2026-03-{1 + n % 28:02d}T{n % 24:02d}:00:00+00:00",
            "produced_at": "2026-03-05T00:00:02.113+00:00",
        }
        out.append(orjson.dumps(body))
        if n % 3 == 0 and len(out) < count:
            out.append(orjson.dumps({**body, "status": "resolved"}))
        n += 1
    return out


def preload(settings: Settings, topic: str, values: list[bytes]) -> None:
    admin = AdminClient(settings.kafka.confluent_config())
    partitions = settings.topics.partitions
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=30)
    producer = Producer({**settings.kafka.producer_config(), "linger.ms": 20})
    for value in values:
        key = orjson.loads(value)["loan_id"].encode()
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0


def timed_writer(writer: Any, total: int) -> float:
    """Messages/s of a writer from its first commit to its last (joining the group excluded)."""
    consumed = 0
    first: tuple[float, int] | None = None  # time and count at the first commit
    try:
        while consumed < total:
            result = writer.drain_once()
            if result.consumed and not result.committed:
                raise RuntimeError(f"{writer.sink} writer did not commit a batch: {result}")
            consumed += result.consumed
            if result.consumed and first is None:
                first = (time.perf_counter(), consumed)
    finally:
        writer.close()
    assert first is not None
    return (total - first[1]) / (time.perf_counter() - first[0])


def clickhouse_figures(settings: Settings, topic: str, values: list[bytes]) -> dict[str, float]:
    database = f"bench_{uuid.uuid4().hex[:8]}"
    local = settings.model_copy(
        update={"clickhouse": settings.clickhouse.model_copy(update={"database": database})}
    )
    migrate(local)
    client = Client(**local.clickhouse.driver_kwargs())
    try:
        rows = [row_of("warnings", v) for v in values]
        names = ", ".join(c.name for c in WARNINGS.columns)
        data = columnar(rows, len(WARNINGS.columns))
        epoch_data = with_epoch_times(client, database, data)
        bare = bare_insert(client, "bare", names, epoch_data)
        print(f"clickhouse bare (one columnar insert): {bare:,.0f} rows/s", file=sys.stderr)
        dated = bare_insert(client, "bare_datetime", names, data)
        print(f"clickhouse bare, times as datetimes: {dated:,.0f} rows/s", file=sys.stderr)

        parsed = server_parse_insert(client, names, values)
        print(
            f"clickhouse server-side parsing (raw JSON, Null table + view): {parsed:,.0f} rows/s",
            file=sys.stderr,
        )
        polled = poll_only(local, topic, len(values), f"bench-poll-{database}")
        print(f"polling alone: {polled:,.0f} messages/s", file=sys.stderr)
        decoded = decode_only(values)
        print(f"decoding alone (orjson): {decoded:,.0f} messages/s", file=sys.stderr)
        ceiling = (1 / bare) / (1 / bare + 1 / polled + 1 / decoded)

        writer = ClickHouseWriter(
            local, topics={topic: "warnings"}, group_id=f"bench-ch-{database}"
        )
        rate = timed_writer(writer, len(values))
        stored = client.execute("SELECT count() FROM warnings")[0][0]
        assert stored == len(values), f"the writer stored {stored} of {len(values)}"
        print(f"clickhouse writer: {rate:,.0f} rows/s", file=sys.stderr)
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {database}")
        client.disconnect()
    return {
        "clickhouse_rows_per_s": round(rate),
        "clickhouse_bare_rows_per_s": round(bare),
        "clickhouse_ratio_vs_bare": round(rate / bare, 3),
        "clickhouse_bare_datetime_rows_per_s": round(dated),
        "clickhouse_ratio_vs_bare_datetime": round(rate / dated, 3),
        "clickhouse_server_parse_rows_per_s": round(parsed),
        "clickhouse_server_parse_ratio_vs_bare": round(parsed / bare, 3),
        "clickhouse_poll_only_per_s": round(polled),
        "clickhouse_decode_only_per_s": round(decoded),
        "clickhouse_serial_ceiling_ratio": round(ceiling, 3),
    }


def bare_insert(client: Client, table: str, names: str, columns: list[list[Any]]) -> float:
    """Rows/s of one columnar insert of ``columns`` into a new copy of ``warnings``."""
    client.execute(f"CREATE TABLE {table} AS warnings")
    started = time.perf_counter()
    client.execute(
        f"INSERT INTO {table} ({names}) VALUES",  # noqa: S608 - our names
        columns,
        columnar=True,
    )
    return len(columns[0]) / (time.perf_counter() - started)


def _extract(column: Column) -> str:
    """The ClickHouse expression reading one warnings column out of the raw JSON text."""
    name = column.name
    if name == "reasons":  # kept as JSON text
        return f"visitParamExtractRaw(raw, '{name}')"
    if column.kind is Kind.TIME:
        return f"parseDateTimeBestEffort(visitParamExtractString(raw, '{name}'))"
    if column.kind is Kind.FLOAT64:
        value = f"visitParamExtractFloat(raw, '{name}')"
    elif column.kind in (Kind.UINT32, Kind.UINT8):
        width = 32 if column.kind is Kind.UINT32 else 8
        value = f"toUInt{width}(visitParamExtractUInt(raw, '{name}'))"
    else:
        value = f"visitParamExtractString(raw, '{name}')"
    if column.nullable:
        kind = "Float64" if column.kind is Kind.FLOAT64 else "String"
        value = (
            f"if(visitParamExtractRaw(raw, '{name}') = 'null', "
            f"CAST(NULL AS Nullable({kind})), toNullable({value}))"
        )
    return value


def server_parse_insert(client: Client, names: str, values: list[bytes]) -> float:
    """Rows/s of one insert of the raw messages that the server parses into a copy of warnings.

    Only for the comparison: it checks nothing a bad message could break (the
    writer's parser names the faulty field; these functions read any nesting
    level and return defaults), so the stored rows are compared with the bare
    insert's to show the figure is for the same rows.
    """
    select = ", ".join(f"{_extract(c)} AS {c.name}" for c in WARNINGS.columns)
    client.execute("CREATE TABLE raw_warnings (raw String) ENGINE = Null")
    client.execute("CREATE TABLE server_parsed AS warnings")
    client.execute(
        f"CREATE MATERIALIZED VIEW parse_warnings TO server_parsed AS "  # noqa: S608 - our names
        f"SELECT {select} FROM raw_warnings"
    )
    texts = [[value.decode() for value in values]]
    started = time.perf_counter()
    client.execute("INSERT INTO raw_warnings (raw) VALUES", texts, columnar=True)
    rate = len(values) / (time.perf_counter() - started)
    query = "SELECT {} FROM {} ORDER BY warning_id, status"
    parsed = client.execute(query.format(names, "server_parsed"))
    assert parsed == client.execute(query.format(names, "bare")), "the server parsed other rows"
    return rate


def poll_only(settings: Settings, topic: str, total: int, group: str) -> float:
    """Messages/s of `sinks.source.poll_batch` over the topic: the writer's polling, alone."""
    consumer = batch_consumer(settings, group, [topic])
    stop = threading.Event()
    try:
        rows = ClickHouseWriter.max_rows  # the writer's own batch size
        got = len(poll_batch(consumer, rows, 30.0, stop))  # joining the group: start-up
        started = time.perf_counter()
        first = got
        while got < total:
            got += len(poll_batch(consumer, rows, 5.0, stop))
        return (total - first) / (time.perf_counter() - started)
    finally:
        consumer.close()


def decode_only(values: list[bytes]) -> float:
    """Messages/s of ``orjson.loads`` over the messages, best of three passes.

    The least any writer that reads the JSON in Python must do per message:
    no checks, no row, no conversion.
    """
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for value in values:
            orjson.loads(value)
        best = min(best, time.perf_counter() - started)
    return len(values) / best


def with_epoch_times(client: Client, database: str, data: list[list[Any]]) -> list[list[Any]]:
    """The same columns with the times as the integers the server stores.

    clickhouse-driver converts each timezone-aware datetime itself (through pytz)
    unless it is given the integer the column stores: seconds for ``DateTime``,
    milliseconds for ``DateTime64(3)``. The writer sends those integers
    (sinks/clickhouse/writer.py, ``epoch_integers``), so the baseline does too.
    """
    types = dict(
        client.execute(
            "SELECT name, type FROM system.columns WHERE database = %(db)s AND table = 'warnings'",
            {"db": database},
        )
    )
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    columns = [list(column) for column in data]
    for i, column in enumerate(WARNINGS.columns):
        if column.kind is Kind.TIME:
            unit = timedelta(milliseconds=1 if "DateTime64" in types[column.name] else 1000)
            columns[i] = [(at - epoch) // unit for at in columns[i]]
    return columns


def redis_figures(settings: Settings, topic: str, values: list[bytes]) -> dict[str, float]:
    run = uuid.uuid4().hex[:8]
    client = redis.Redis.from_url(settings.redis.url, **settings.redis.client_kwargs())
    bare_prefix, writer_prefix = f"bench:{run}:bare:", f"bench:{run}:writer:"
    try:
        bare_writer = RedisWriter(
            settings, topics=[topic], group_id=f"bench-redis-bare-{run}", prefix=bare_prefix
        )
        parsed = [parse_warning(v) for v in values]
        bare_writer.client.script_load(bare_writer._script.script)
        started = time.perf_counter()
        applied, _ = bare_writer.apply(parsed)  # one pipeline for all of them
        bare = len(parsed) / (time.perf_counter() - started)
        bare_writer.close()
        assert applied == len(parsed)
        print(f"redis bare (one pipeline, same script): {bare:,.0f} warnings/s", file=sys.stderr)

        writer = RedisWriter(
            settings, topics=[topic], group_id=f"bench-redis-{run}", prefix=writer_prefix
        )
        rate = timed_writer(writer, len(values))
        cards = sum(1 for _ in client.scan_iter(match=writer_prefix + "card:*", count=1000))
        expected = len({w.loan_id for w in parsed})
        assert cards == expected, f"the writer made {cards} cards of {expected}"
        print(f"redis writer: {rate:,.0f} warnings/s", file=sys.stderr)
    finally:
        for prefix in (bare_prefix, writer_prefix):
            keys = list(client.scan_iter(match=prefix + "*", count=1000))
            for start in range(0, len(keys), 1000):
                client.unlink(*keys[start : start + 1000])
        client.close()
    return {
        "redis_warnings_per_s": round(rate),
        "redis_bare_warnings_per_s": round(bare),
        "redis_ratio_vs_bare": round(rate / bare, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--warnings", type=int, default=100_000)
    args = parser.parse_args()

    base = load_settings()
    local_stack.up(base)
    topic = f"bench.{uuid.uuid4().hex[:8]}.warnings"
    values = synthetic(args.warnings)
    preload(base, topic, values)
    print(f"preloaded {len(values)} warnings into {topic}", file=sys.stderr)
    try:
        figures: dict[str, Any] = {"warnings": len(values)}
        figures |= clickhouse_figures(base, topic, values)
        figures |= redis_figures(base, topic, values)
    finally:
        admin = AdminClient(base.kafka.confluent_config())
        admin.delete_topics([topic])[topic].result(timeout=30)
    for key, value in figures.items():
        print(f"{key:>32}: {value}", file=sys.stderr)
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
