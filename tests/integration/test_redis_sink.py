"""The Redis writer against the real stack: Kafka in, Redis out, lookups read back.

Each test has its own topic, consumer group and key prefix, produces warnings in the
docs/warnings.md format (with at-least-once duplicates and open -> resolved pairs),
and drains a real writer until every message is handled.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import orjson
import pytest
import redis
from confluent_kafka import Producer

from config import Settings
from sinks.redis import (
    RECENT_LIMIT,
    DrainResult,
    RedisWriter,
    borrower,
    lookup,
    lookup_command,
    risk_score,
    run,
)


def warning(n: int, status: str = "open", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schema_version": 1,
        "warning_id": f"w{n:04d}",
        "status": status,
        "loan_id": f"L-{n % 3:06d}",
        "borrower_id": f"bw-{n % 3}",
        "rule_id": "dpd_30",
        "rule_version": 1,
        "pack_digest": "9b1f",
        "severity": "high",
        "owner_team": "collections",
        "message": f"warning {n}",
        "episode": 1,
        "episode_key": "",
        "reasons": [{"name": "loan.dpd", "value": 30}],
        "score": None,
        "dpd": 30,
        "bucket": "M1",
        "klass": "special_mention",
        "event_id": None,
        "event_time": f"2026-03-{1 + n:02d}T16:00:00+00:00",
        "produced_at": f"2026-03-{2 + n:02d}T00:00:02.113+00:00",
    }
    body.update(changes)
    return body


def produce(settings: Settings, topic: str, bodies: list[dict[str, Any]]) -> None:
    producer = Producer(settings.kafka.confluent_config())
    for body in bodies:
        producer.produce(topic, key=body["loan_id"].encode(), value=orjson.dumps(body))
    assert producer.flush(30) == 0


def drain(w: RedisWriter, expected: int, timeout_s: float = 60) -> list[DrainResult]:
    """Drain until ``expected`` messages were consumed, then one more (empty) round."""
    results: list[DrainResult] = []
    deadline = time.monotonic() + timeout_s
    while sum(r.consumed for r in results) < expected:
        assert time.monotonic() < deadline, f"drained {results} of {expected}"
        results.append(w.drain_once())
    assert w.drain_once().consumed == 0
    return results


def snapshot(client: redis.Redis, prefix: str) -> dict[bytes, Any]:
    """Every key under the prefix with its full contents, to compare before and after."""
    out: dict[bytes, Any] = {}
    for key in sorted(client.scan_iter(match=prefix + "*")):
        kind = client.type(key)
        if kind == b"hash":
            out[key] = client.hgetall(key)
        elif kind == b"list":
            out[key] = client.lrange(key, 0, -1)
        elif kind == b"set":
            out[key] = client.smembers(key)
        elif kind == b"zset":
            out[key] = client.zrange(key, 0, -1, withscores=True)
        elif kind == b"stream":
            out[key] = client.xrange(key)
    return out


def test_writer_builds_cards_sets_and_stream_and_duplicates_change_nothing(
    settings: Settings,
    redis_client: redis.Redis,
    redis_prefix: str,
    topic: str,
    unique: str,
) -> None:
    p = redis_prefix
    opens = [warning(n) for n in range(6)]  # loans L-0, L-1, L-2, two each
    opens[4]["severity"] = "critical"  # L-1's second warning
    opens[4]["owner_team"] = "legal"
    opens[5].update(dpd=61, bucket="M2", klass="substandard")  # L-2's newest
    # L-2's oldest arrives last but must not win the card (older event_time).
    late = warning(8, loan_id="L-000002", event_time="2026-02-01T00:00:00+00:00", dpd=5)
    resolved = warning(0, "resolved", produced_at="2026-04-01T00:00:00+00:00")  # L-0's first
    bodies = [*opens, resolved, late]
    duplicates = [opens[1], opens[4], resolved, opens[0]]  # incl. an open after its resolve
    produce(settings, topic, bodies + duplicates)

    w = RedisWriter(settings, topics=[topic], group_id=f"test-{unique}", prefix=p, max_rows=3)
    try:
        results = drain(w, len(bodies) + len(duplicates))
    finally:
        w.close()
    assert all(r.committed for r in results if r.consumed)
    assert sum(r.skipped for r in results) == 0
    assert sum(r.applied for r in results) == len(bodies)  # duplicates were no-ops

    distinct_opens = {b["warning_id"] for b in bodies if b["status"] == "open"}
    assert redis_client.xlen(p + "stream:warnings") == len(distinct_opens) == 7
    # Resolved removed the open entry and the team membership.
    assert not redis_client.hexists(p + "open:L-000000", "w0000")
    assert redis_client.hkeys(p + "open:L-000000") == [b"w0003"]
    assert redis_client.smembers(p + "team:collections") == {
        b"w0001",
        b"w0002",
        b"w0003",
        b"w0005",
        b"w0008",
    }
    assert redis_client.smembers(p + "team:legal") == {b"w0004"}
    # L-0: resolved entry is newest in recent; its card counts one open warning.
    card0 = redis_client.hgetall(p + "card:L-000000")
    assert card0[b"open_warnings"] == b"1"
    assert card0[b"updated_at"] == b"2026-04-01T00:00:00+00:00"
    newest: Any = redis_client.lindex(p + "recent:L-000000", 0)
    assert orjson.loads(newest)["status"] == "resolved"
    # L-2: the card took the newest warning's state, not the last one to arrive.
    card2 = redis_client.hgetall(p + "card:L-000002")
    assert (card2[b"dpd"], card2[b"bucket"], card2[b"klass"]) == (b"61", b"M2", b"substandard")
    assert card2[b"last_warning_id"] == b"w0005"
    assert card2[b"open_warnings"] == b"3"  # w0002, w0005, w0008
    # top: worst open severity * 1000 + card dpd.
    pairs: Any = redis_client.zrange(p + "top", 0, -1, withscores=True)
    top = dict(pairs)
    assert top == {
        b"L-000000": risk_score("high", 30),
        b"L-000001": risk_score("critical", 30),
        b"L-000002": risk_score("high", 61),
    }
    entries: Any = redis_client.xrange(p + "stream:warnings", count=1)
    entry = entries[0][1]
    assert entry[b"warning_id"] == b"w0000" and entry[b"owner_team"] == b"collections"

    # Replaying the whole topic with a new group changes nothing at all.
    before = snapshot(redis_client, p)
    again = RedisWriter(settings, topics=[topic], group_id=f"test-{unique}-2", prefix=p)
    try:
        replay = drain(again, len(bodies) + len(duplicates))
    finally:
        again.close()
    assert sum(r.applied for r in replay) == 0
    assert snapshot(redis_client, p) == before


def test_resolving_the_last_open_warning_leaves_top_and_recent_is_bounded(
    settings: Settings, redis_client: redis.Redis, redis_prefix: str, topic: str, unique: str
) -> None:
    p = redis_prefix
    many = [warning(n, loan_id="L-9") for n in range(25)]
    resolves = [warning(n, "resolved", loan_id="L-9") for n in range(25)]
    produce(settings, topic, many + resolves)
    w = RedisWriter(settings, topics=[topic], group_id=f"test-{unique}", prefix=p, max_rows=500)
    try:
        drain(w, 50)
    finally:
        w.close()
    assert redis_client.llen(p + "recent:L-9") == RECENT_LIMIT
    assert redis_client.hlen(p + "open:L-9") == 0
    assert redis_client.zscore(p + "top", "L-9") is None
    assert redis_client.scard(p + "team:collections") == 0
    assert redis_client.hget(p + "card:L-9", "open_warnings") == b"0"


def test_bad_messages_are_skipped_and_committed(
    settings: Settings, redis_client: redis.Redis, redis_prefix: str, topic: str, unique: str
) -> None:
    producer = Producer(settings.kafka.confluent_config())
    producer.produce(topic, value=b"not json")
    producer.produce(topic, value=orjson.dumps(warning(1, severity="urgent")))
    producer.produce(topic, value=orjson.dumps(warning(2)))
    assert producer.flush(30) == 0
    w = RedisWriter(settings, topics=[topic], group_id=f"test-{unique}", prefix=redis_prefix)
    try:
        results = drain(w, 3)
    finally:
        w.close()
    assert sum(r.skipped for r in results) == 2
    assert sum(r.applied for r in results) == 1
    assert all(r.committed for r in results if r.consumed)


def test_redis_down_keeps_the_batch_and_logs_degraded_once(
    settings: Settings,
    redis_client: redis.Redis,
    redis_prefix: str,
    topic: str,
    unique: str,
    caplog: Any,
) -> None:
    """A client pointed at a closed port: the writer retries, never commits, then recovers."""
    produce(settings, topic, [warning(1)])
    w = RedisWriter(
        settings,
        topics=[topic],
        group_id=f"test-{unique}",
        prefix=redis_prefix,
        backoff_initial_s=0.05,
        backoff_max_s=0.1,
    )
    good_client = w.client
    w.client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    w._script = w.client.register_script(w._script.script)

    def heal() -> None:
        deadline = time.monotonic() + 30
        while not w.degraded and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # a few more failed attempts while "down"
        w.client = good_client

    healer = threading.Thread(target=heal)
    caplog.set_level("DEBUG", logger="sinks.redis.writer")
    healer.start()
    try:
        results = drain(w, 1)
    finally:
        healer.join()
        w.close()
    result = next(r for r in results if r.consumed)
    assert result.retries >= 2 and result.committed and result.applied == 1
    messages = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert sum("degraded" in m for m in messages) == 1
    assert sum("recovered" in m for m in messages) == 1
    assert lookup(redis_client, redis_prefix, "L-000001") is not None


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_redis_is_reported_within_a_second_however_the_client_is_built(
    settings: Settings,
) -> None:
    port = closed_port()
    kwargs = settings.redis.client_kwargs()
    clients = {
        "from_url": redis.Redis.from_url(f"redis://127.0.0.1:{port}/0", **kwargs),
        # Built this way, redis-py's default policy retried for about 4 s.
        "constructor": redis.Redis(host="127.0.0.1", port=port, **kwargs),
    }
    for how, client in clients.items():
        pipe = client.pipeline()
        pipe.set("lw:probe", 1)
        started = time.monotonic()
        with pytest.raises(redis.ConnectionError):
            pipe.execute()
        took = time.monotonic() - started
        assert took < 1.0, f"{how}: the outage took {took:.2f}s to surface"


def test_redis_client_timeouts_and_retries_come_from_settings(settings: Settings) -> None:
    local = settings.model_copy(
        update={
            "redis": settings.redis.model_copy(
                update={"socket_connect_timeout_s": 0.3, "retries": 2, "health_check_interval_s": 5}
            )
        }
    )
    client = redis.Redis.from_url(local.redis.url, **local.redis.client_kwargs())
    try:
        assert client.ping()
        connection = client.connection_pool.get_connection()
        try:
            assert connection.socket_connect_timeout == 0.3
            assert connection.retry.get_retries() == 2
            assert connection.health_check_interval == 5
        finally:
            client.connection_pool.release(connection)
    finally:
        client.close()


def test_lookup_returns_card_open_and_recent_in_one_round_trip(
    settings: Settings,
    redis_client: redis.Redis,
    redis_prefix: str,
    topic: str,
    unique: str,
    capsys: Any,
) -> None:
    produce(settings, topic, [warning(0), warning(3), warning(0, "resolved"), warning(6)])
    w = RedisWriter(settings, topics=[topic], group_id=f"test-{unique}", prefix=redis_prefix)
    try:
        drain(w, 4)
    finally:
        w.close()
    card = lookup(redis_client, redis_prefix, "L-000000")
    assert card is not None
    assert card["dpd"] == 30 and card["bucket"] == "M1" and card["open_warnings"] == 2
    assert sorted(card["open"]) == ["w0003", "w0006"]
    assert card["open"]["w0003"]["message"] == "warning 3"
    assert [(r["warning_id"], r["status"]) for r in card["recent"]] == [
        ("w0006", "open"),
        ("w0000", "resolved"),
        ("w0003", "open"),
        ("w0000", "open"),
    ]
    assert lookup(redis_client, redis_prefix, "L-nope") is None

    local = settings.model_copy(
        update={"redis": settings.redis.model_copy(update={"key_prefix": redis_prefix})}
    )
    assert lookup_command(local, "L-000000") == 0
    assert orjson.loads(capsys.readouterr().out)["open_warnings"] == 2
    assert lookup_command(local, "L-nope") == 1

    calls = 1000
    started = time.perf_counter()
    for _ in range(calls):
        lookup(redis_client, redis_prefix, "L-000000")
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\nredis lookup: {calls} calls in {elapsed * 1000:.1f} ms, "
            f"{elapsed / calls * 1e6:.0f} us per lookup (card + 2 open + 4 recent)"
        )


def drained(settings: Settings, topic: str, group: str, prefix: str, count: int, **kw: Any) -> None:
    w = RedisWriter(settings, topics=[topic], group_id=group, prefix=prefix, **kw)
    try:
        drain(w, count)
    finally:
        w.close()


def test_the_card_carries_the_latest_score_and_pack_and_the_borrower_rolls_up_loans(
    settings: Settings, redis_client: redis.Redis, redis_prefix: str, topic: str, unique: str
) -> None:
    p = redis_prefix
    mine = {"borrower_id": "bw-7f3a9c"}
    bodies = [
        warning(1, loan_id="L-a", dpd=10, **mine),
        warning(2, loan_id="L-b", dpd=40, rule_id="high_pd", score=0.41, **mine),
        warning(3, loan_id="L-b", dpd=95, klass="substandard", pack_digest="77aa", **mine),
        warning(
            4,
            loan_id="L-b",
            rule_id="high_pd",
            score=0.12,
            event_time="2026-02-01T00:00:00+00:00",
            **mine,
        ),
        warning(2, "resolved", loan_id="L-b", rule_id="high_pd", score=0.2, **mine),
        warning(5, loan_id="L-c", dpd=3, borrower_id="bw-other"),
        # A model's drift warning names no borrower: no roll-up under an empty id.
        warning(
            6,
            loan_id="model:pd/p0",
            rule_id="model_drift",
            owner_team="models",
            borrower_id="",
            bucket="",
            klass="",
        ),
    ]
    produce(settings, topic, bodies)
    drained(settings, topic, f"test-{unique}", p, len(bodies))

    card = lookup(redis_client, p, "L-b")
    assert card is not None
    assert card["borrower_id"] == "bw-7f3a9c" and card["pack_digest"] == "77aa"
    assert (card["dpd"], card["klass"]) == (95, "substandard")
    # The newest score by event time (w0002's resolution, same time as its opening),
    # not the one that arrived last with an older event time (w0004).
    assert (card["score"], card["score_rule"]) == (0.2, "high_pd")
    assert card["score_at"] == "2026-03-03T16:00:00+00:00"
    assert "score" not in (lookup(redis_client, p, "L-a") or {})

    rollup = redis_client.hgetall(p + "borrower:bw-7f3a9c")
    assert rollup[b"loans"] == b"2"
    assert rollup[b"max_dpd"] == b"95"
    assert rollup[b"worst_klass"] == b"substandard"
    assert rollup[b"open_warnings"] == b"3"  # L-a: w0001; L-b: w0003, w0004
    assert rollup[b"open:L-b"] == b"2" and rollup[b"dpd:L-a"] == b"10"
    assert redis_client.hget(p + "borrower:bw-other", "loans") == b"1"
    assert borrower(redis_client, p, "bw-7f3a9c") == {
        "borrower_id": "bw-7f3a9c",
        "loans": 2,
        "max_dpd": 95,
        "worst_klass": "substandard",
        "open_warnings": 3,
        "updated_at": rollup[b"updated_at"].decode(),
        "by_loan": {
            "L-a": {"dpd": 10, "klass": "special_mention", "open": 1},
            "L-b": {"dpd": 95, "klass": "substandard", "open": 2},
        },
    }
    assert borrower(redis_client, p, "bw-nobody") is None
    assert not redis_client.exists(p + "borrower:")
    drift = lookup(redis_client, p, "model:pd/p0")  # kept, under the model's name
    assert drift is not None and drift["open_warnings"] == 1


def test_written_off_loans_close_and_quiet_loans_expire_while_open_ones_stay(
    settings: Settings, redis_client: redis.Redis, redis_prefix: str, topic: str, unique: str
) -> None:
    p = redis_prefix
    bodies = [
        warning(1, loan_id="L-off", borrower_id="bw-off"),
        warning(
            2, loan_id="L-off", borrower_id="bw-off", rule_id="written_off", owner_team="legal"
        ),
        warning(3, loan_id="L-quiet", borrower_id="bw-quiet"),
        warning(3, "resolved", loan_id="L-quiet", borrower_id="bw-quiet"),
        warning(4, loan_id="L-open", borrower_id="bw-open"),
        warning(5, loan_id="L-off", borrower_id="bw-off"),  # after the write-off
    ]
    produce(settings, topic, bodies)
    drained(settings, topic, f"test-{unique}", p, len(bodies), closed_ttl_days=2)

    card = lookup(redis_client, p, "L-off")
    assert card is not None
    assert (card["closed_by"], card["closed_at"]) == ("written_off", "2026-03-03T16:00:00+00:00")
    assert card["open"] == {} and card["open_warnings"] == 0
    assert [r["warning_id"] for r in card["recent"]] == ["w0005", "w0002", "w0001"]
    assert redis_client.zscore(p + "top", "L-off") is None
    members = redis_client.smembers(p + "team:collections") | redis_client.smembers(
        p + "team:legal"
    )
    assert members == {b"w0004"}  # only the open loan's warning

    two_days = 2 * 86_400
    for loan in ("L-off", "L-quiet"):
        for kind in ("card", "recent", "seen"):
            assert 0 < redis_client.ttl(f"{p}{kind}:{loan}") <= two_days, (kind, loan)
    for kind in ("card", "open", "recent", "seen"):
        assert redis_client.ttl(f"{p}{kind}:L-open") == -1, kind
    assert 0 < redis_client.ttl(p + "borrower:bw-quiet") <= two_days
    assert redis_client.ttl(p + "borrower:bw-open") == -1

    # A new warning opening on the quiet loan keeps its keys again.
    produce(settings, topic, [warning(6, loan_id="L-quiet", borrower_id="bw-quiet")])
    drained(settings, topic, f"test-{unique}", p, 1, closed_ttl_days=2)
    assert redis_client.ttl(p + "card:L-quiet") == -1
    assert redis_client.ttl(p + "borrower:bw-quiet") == -1


@pytest.mark.timeout(120)
def test_rebuild_restores_keys_lost_behind_the_writers_back_without_republishing(
    settings: Settings, redis_client: redis.Redis, redis_prefix: str, topic: str, unique: str
) -> None:
    p = redis_prefix
    bodies = [warning(n) for n in range(12)] + [warning(n, "resolved") for n in (0, 4, 8)]
    produce(settings, topic, bodies)
    local = settings.model_copy(
        update={
            "app_id": f"test-{unique}",
            "topics": settings.topics.model_copy(update={"warnings": topic}),
            "redis": settings.redis.model_copy(update={"key_prefix": p}),
        }
    )
    drained(local, topic, f"test-{unique}-redis", p, len(bodies))  # run()'s own group
    before = snapshot(redis_client, p)
    # A partial loss the view marker cannot see (an eviction, a careless DEL).
    redis_client.delete(p + "card:L-000001", p + "seen:L-000001", p + "top", p + "recent:L-000002")
    assert snapshot(redis_client, p) != before

    stop = threading.Event()
    thread = threading.Thread(target=run, args=(local, stop), kwargs={"rebuild": True})
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while snapshot(redis_client, p) != before and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert snapshot(redis_client, p) == before  # stream included: nothing published twice
