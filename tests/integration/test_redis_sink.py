"""The Redis writer against the real stack: Kafka in, Redis out, lookups read back.

Each test has its own topics, consumer group and key prefix, produces warnings and
transitions in the docs/warnings.md format (with at-least-once duplicates and
open -> resolved pairs), and drains a real writer until every message is handled.
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
    NO_CARD,
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


def transition(
    loan_id: str, kind: str, change: str, at: str, dpd: int, bucket: str, klass: str, **more: Any
) -> dict[str, Any]:
    """A stamped transition (docs/warnings.md): ``change`` is ``"M1>M2"``, ``at`` its step's
    event time; ``dpd``, ``bucket`` and ``klass`` the loan's state after the step."""
    old, new = change.split(">")
    body: dict[str, Any] = {
        "schema_version": 1,
        "loan_id": loan_id,
        "borrower_id": "bw-t",
        "kind": kind,
        "from": old,
        "to": new,
        "on": at[:10],
        "event_id": None,
        "dpd": dpd,
        "bucket": bucket,
        "klass": klass,
        "event_time": at,
        "produced_at": at[:10] + "T23:00:00.5+00:00",
    }
    body.update(more)
    return body


def produce(settings: Settings, topic: str, bodies: list[dict[str, Any]]) -> None:
    producer = Producer(settings.kafka.producer_config())
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
    # Each partition's warnings in order; which partition the writer reads first is its own.
    entries: Any = redis_client.xrange(p + "stream:warnings")
    entry = {fields[b"warning_id"]: fields for _, fields in entries}[b"w0000"]
    assert entry[b"owner_team"] == b"collections"

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
    producer = Producer(settings.kafka.producer_config())
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


def test_a_first_batch_of_only_bad_messages_marks_the_view_so_nothing_is_rebuilt(
    settings: Settings, redis_client: redis.Redis, redis_prefix: str, topic: str, unique: str
) -> None:
    w = RedisWriter(settings, topics=[topic], group_id=f"test-{unique}", prefix=redis_prefix)
    try:
        produce_values(settings, topic, [b"not json", orjson.dumps(warning(1, severity="urgent"))])
        first = drain(w, 2)
        assert sum(r.skipped for r in first) == 2
        assert all(r.committed for r in first if r.consumed)  # not the empty polls
        assert redis_client.exists(redis_prefix + "view") == 1
        produce_values(settings, topic, [orjson.dumps(warning(2))])
        second = drain(w, 1)
    finally:
        w.close()
    assert sum(r.applied for r in second) == 1
    assert sum(r.rebuilt for r in first + second) == 0  # the bad batch was not replayed


def produce_values(settings: Settings, topic: str, values: list[bytes]) -> None:
    producer = Producer(settings.kafka.producer_config())
    for value in values:
        producer.produce(topic, value=value)
    assert producer.flush(30) == 0


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
    assert "or no such loan" in capsys.readouterr().err
    # With the loan book's answer, a quiet loan and a loan that never was differ.
    assert lookup_command(local, "L-quiet", known=lambda _: "disbursed 2024-01-05") == NO_CARD
    assert capsys.readouterr().err == (
        "loan L-quiet has no risk card: no warning or bucket change for it yet "
        "(disbursed 2024-01-05)\n"
    )
    assert lookup_command(local, "L-nope", known=lambda _: None) == 1
    assert capsys.readouterr().err.startswith("no loan L-nope: no risk card in Redis and no")

    def unreadable(loan_id: str) -> str | None:
        raise ConnectionError("Connection refused")

    assert lookup_command(local, "L-nope", known=unreadable) == 1
    assert "whether the loan exists is unknown" in capsys.readouterr().err

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


def both(
    settings: Settings, topic: str, transitions_topic: str, group: str, prefix: str, **kw: Any
) -> RedisWriter:
    """A writer of the warnings and the transitions topic."""
    return RedisWriter(
        settings,
        topics=[topic],
        transitions_topics=[transitions_topic],
        group_id=group,
        prefix=prefix,
        **kw,
    )


def drain_both(
    settings: Settings, topic: str, transitions_topic: str, group: str, prefix: str, count: int
) -> list[DrainResult]:
    w = both(settings, topic, transitions_topic, group, prefix)
    try:
        return drain(w, count)
    finally:
        w.close()


def test_a_transition_without_any_warning_updates_the_card_and_the_borrower_roll_up(
    settings: Settings,
    redis_client: redis.Redis,
    redis_prefix: str,
    topic: str,
    transitions_topic: str,
    unique: str,
    capsys: Any,
) -> None:
    p = redis_prefix
    # L-t1 never had a warning: it rolls to M1 (and special mention), then to M2.
    cut_off = "2026-03-14T16:00:00+00:00"
    rolls = [
        transition("L-t1", "bucket", "M0>M1", cut_off, 4, "M1", "special_mention"),
        transition("L-t1", "klass", "normal>special_mention", cut_off, 4, "M1", "special_mention"),
        transition(
            "L-t1", "bucket", "M1>M2", "2026-04-11T16:00:00+00:00", 31, "M2", "special_mention"
        ),
    ]
    # L-t2 had a warning at 10 DPD; a later downgrade with no warning must show.
    downgrade = transition(
        "L-t2",
        "klass",
        "special_mention>substandard",
        "2026-06-09T16:00:00+00:00",
        91,
        "M4",
        "substandard",
        event_id="e-91",
    )
    produce(settings, topic, [warning(1, loan_id="L-t2", borrower_id="bw-t", dpd=10)])
    produce(settings, transitions_topic, [*rolls, downgrade])
    results = drain_both(settings, topic, transitions_topic, f"test-{unique}", p, 5)
    assert sum(r.applied for r in results) == 5 and sum(r.transitions for r in results) == 4
    assert all(r.committed for r in results if r.consumed)

    card = lookup(redis_client, p, "L-t1")
    assert card is not None
    assert (card["dpd"], card["bucket"], card["klass"]) == (31, "M2", "special_mention")
    assert (card["borrower_id"], card["open_warnings"]) == ("bw-t", 0)
    assert card["state_at"] == card["last_transition_at"] == "2026-04-11T16:00:00+00:00"
    assert card["state_by"].startswith("transition:bucket:M1>M2:2026-04-11:")
    assert (card["last_transition"]["from"], card["last_transition"]["to"]) == ("M1", "M2")
    assert card["updated_at"] == "2026-04-11T23:00:00.5+00:00"
    assert "last_warning_id" not in card and card["open"] == {} and card["recent"] == []
    # A quiet loan, as with warnings all resolved: its keys expire (docs/redis.md, TTL).
    assert 0 < redis_client.ttl(p + "card:L-t1") <= settings.redis.closed_ttl_days * 86_400

    other = lookup(redis_client, p, "L-t2")
    assert other is not None
    assert (other["dpd"], other["bucket"], other["klass"]) == (91, "M4", "substandard")
    assert other["last_warning_id"] == "w0001" and other["open_warnings"] == 1
    assert redis_client.zscore(p + "top", "L-t2") == risk_score("high", 91)
    assert redis_client.ttl(p + "card:L-t2") == -1  # an open warning keeps it

    assert borrower(redis_client, p, "bw-t") == {
        "borrower_id": "bw-t",
        "loans": 2,
        "max_dpd": 91,
        "worst_klass": "substandard",
        "open_warnings": 1,
        "updated_at": "2026-06-09T23:00:00.5+00:00",
        "by_loan": {
            "L-t1": {"dpd": 31, "klass": "special_mention", "open": 0},
            "L-t2": {"dpd": 91, "klass": "substandard", "open": 1},
        },
    }

    local = settings.model_copy(
        update={"redis": settings.redis.model_copy(update={"key_prefix": p})}
    )
    assert lookup_command(local, "L-t1") == 0  # loanwatch lookup L-t1
    printed = orjson.loads(capsys.readouterr().out)
    assert (printed["bucket"], printed["klass"], printed["dpd"]) == ("M2", "special_mention", 31)


def test_an_older_record_never_overwrites_a_newer_state_and_repeats_change_nothing(
    settings: Settings,
    redis_client: redis.Redis,
    redis_prefix: str,
    topic: str,
    transitions_topic: str,
    unique: str,
) -> None:
    p = redis_prefix
    group = f"test-{unique}"
    state = ("dpd", "bucket", "klass", "state_at", "state_ms", "state_by")

    def held(loan: str) -> dict[str, Any]:
        card = redis_client.hgetall(f"{p}card:{loan}")
        return {name: card.get(name.encode()) for name in state}

    # The newest facts arrive first: a transition on L-a, a warning on L-b.
    newest = transition(
        "L-a", "bucket", "M1>M2", "2026-04-11T16:00:00+00:00", 31, "M2", "special_mention"
    )
    produce(settings, transitions_topic, [newest])
    produce(
        settings,
        topic,
        [
            warning(
                3,
                loan_id="L-b",
                borrower_id="bw-t",
                dpd=95,
                bucket="M4",
                klass="substandard",
                event_time="2026-06-14T16:00:00+00:00",
            )
        ],
    )
    drain_both(settings, topic, transitions_topic, group, p, 2)
    before = {loan: held(loan) for loan in ("L-a", "L-b")}
    rollup = redis_client.hgetall(p + "borrower:bw-t")
    assert before["L-a"]["bucket"] == b"M2" and before["L-b"]["bucket"] == b"M4"

    # Older ones arrive later: a transition after the transition, a transition after
    # the warning, a warning after the transition, and a transition of the warning's own
    # step (same event time) carrying another state: none may replace what is held.
    produce(
        settings,
        transitions_topic,
        [
            transition(
                "L-a", "bucket", "M0>M1", "2026-03-14T16:00:00+00:00", 4, "M1", "special_mention"
            ),
            transition(
                "L-b", "bucket", "M3>M4", "2026-06-10T16:00:00+00:00", 91, "M4", "special_mention"
            ),
            transition("L-b", "klass", "x>y", "2026-06-14T16:00:00+00:00", 1, "M9", "normal"),
        ],
    )
    produce(
        settings,
        topic,
        [
            warning(
                4,
                "resolved",  # L-a stays quiet: its keys keep expiring
                loan_id="L-a",
                borrower_id="bw-t",
                dpd=20,
                event_time="2026-04-01T16:00:00+00:00",
            )
        ],
    )
    results = drain_both(settings, topic, transitions_topic, group, p, 4)
    assert sum(r.applied for r in results) == 4  # applied (recorded), yet older
    assert {loan: held(loan) for loan in ("L-a", "L-b")} == before
    after = redis_client.hgetall(p + "borrower:bw-t")
    for name in (b"max_dpd", b"worst_klass", b"dpd:L-a", b"klass:L-a", b"dpd:L-b", b"klass:L-b"):
        assert after[name] == rollup[name], name
    assert after[b"loans"] == b"2" and after[b"max_dpd"] == b"95"

    # Redelivered transitions, and a whole replay by a new group, change nothing at all,
    # not even the expiry of the quiet loan's keys.
    snap, ttl = snapshot(redis_client, p), redis_client.pttl(p + "card:L-a")
    redelivered = transition(
        "L-a", "bucket", "M0>M1", "2026-03-14T16:00:00+00:00", 4, "M1", "special_mention"
    )
    produce(settings, transitions_topic, [newest, redelivered])
    again = drain_both(settings, topic, transitions_topic, group, p, 2)
    replay = drain_both(settings, topic, transitions_topic, f"{group}-2", p, 8)
    assert sum(r.applied for r in again + replay) == 0
    assert snapshot(redis_client, p) == snap
    assert 0 < redis_client.pttl(p + "card:L-a") <= ttl


def test_a_bad_transition_is_skipped_and_committed_and_the_rest_applied(
    settings: Settings,
    redis_client: redis.Redis,
    redis_prefix: str,
    topic: str,
    transitions_topic: str,
    unique: str,
) -> None:
    good = transition(
        "L-g", "bucket", "M0>M1", "2026-03-14T16:00:00+00:00", 4, "M1", "special_mention"
    )
    # What a worker of the previous release wrote: no state, no times.
    old_format = {
        k: good[k] for k in ("schema_version", "loan_id", "kind", "from", "to", "on", "event_id")
    }
    producer = Producer(settings.kafka.producer_config())
    for value in (b"not json", orjson.dumps({**good, "kind": "status"}), orjson.dumps(old_format)):
        producer.produce(transitions_topic, key=b"L-g", value=value)
    producer.produce(transitions_topic, key=b"L-g", value=orjson.dumps(good))
    assert producer.flush(30) == 0
    results = drain_both(settings, topic, transitions_topic, f"test-{unique}", redis_prefix, 4)
    assert sum(r.skipped for r in results) == 3
    assert sum(r.applied for r in results) == 1
    assert all(r.committed for r in results if r.consumed)
    assert any("unknown kind" in e for r in results for e in r.errors)
    card = lookup(redis_client, redis_prefix, "L-g")
    assert card is not None and card["bucket"] == "M1"


@pytest.mark.timeout(120)
def test_rebuild_restores_keys_lost_behind_the_writers_back_without_republishing(
    settings: Settings,
    redis_client: redis.Redis,
    redis_prefix: str,
    topic: str,
    transitions_topic: str,
    unique: str,
) -> None:
    p = redis_prefix
    bodies = [warning(n) for n in range(12)] + [warning(n, "resolved") for n in (0, 4, 8)]
    moves = [  # newer than L-000001's warnings, older than L-000002's, and a loan of its own
        transition(
            "L-000001",
            "bucket",
            "M1>M2",
            "2026-03-20T16:00:00+00:00",
            31,
            "M2",
            "special_mention",
            borrower_id="bw-1",
        ),
        transition(
            "L-000002",
            "klass",
            "normal>special_mention",
            "2026-03-05T16:00:00+00:00",
            5,
            "M1",
            "special_mention",
            borrower_id="bw-2",
        ),
        transition(
            "L-tonly", "bucket", "M0>M1", "2026-03-14T16:00:00+00:00", 4, "M1", "special_mention"
        ),
    ]
    produce(settings, topic, bodies)
    produce(settings, transitions_topic, moves)
    local = settings.model_copy(
        update={
            "app_id": f"test-{unique}",
            "topics": settings.topics.model_copy(
                update={"warnings": topic, "transitions": transitions_topic}
            ),
            "redis": settings.redis.model_copy(update={"key_prefix": p}),
        }
    )
    drained(  # run()'s own group
        local,
        topic,
        f"test-{unique}-redis",
        p,
        len(bodies) + len(moves),
        transitions_topics=[transitions_topic],
    )
    before = snapshot(redis_client, p)
    assert before[(p + "card:L-000001").encode()][b"bucket"] == b"M2"
    assert before[(p + "card:L-tonly").encode()][b"bucket"] == b"M1"
    # A partial loss the view marker cannot see (an eviction, a careless DEL).
    redis_client.delete(p + "card:L-000001", p + "seen:L-000001", p + "top", p + "recent:L-000002")
    redis_client.delete(p + "card:L-tonly", p + "seen:L-tonly", p + "borrower:bw-t")
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
