"""Alert path benchmark: a burst of warnings, grouped delivery to a local HTTP receiver.

1. A burst of N warnings (default 10,000; teams x rules x severities, each its own
   loan) is produced into a fresh topic as fast as the producer goes.
2. Baseline, same run: a bare confluent-kafka loop consumes and JSON-decodes that
   topic in its own group — the ceiling for any consumer of it on this machine.
3. The alert service (its own group and Redis prefix; group_by team and rule,
   group_wait 2 s, group_interval 5 s, one JSON webhook receiver on loopback)
   consumes the same topic. Handled rate: warnings ingested per second from the
   first to the last consumed. Delivery: the receiver records when each message
   arrives; the delivery ledger's events map each message's notifications to
   their warnings, so each warning's delay is its first arrival minus the
   service's start (the burst waited in Kafka).
4. With ``--spread-s 60``, the same number again on a fresh topic, sent evenly
   over a minute while the service runs; delays count from each warning's send.

    .venv/bin/python bench/alerts.py --warnings 10000 --spread-s 60

Ends with one JSON line:
{"warnings_per_s": .., "notifications_sent": .., "max_delay_s": .., ...}
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import threading
import time
import uuid
from typing import Any

import orjson
import redis
from aiohttp import web
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from config import Settings, load_settings
from config import stack as local_stack
from sinks.alerts.routing_file import parse_config
from sinks.alerts.service import AlertService

TEAMS = ("collections", "risk-review", "fraud")
RULES = ("dpd_1", "dpd_30", "dpd_60", "installment_missed", "partial_payment", "multi_lending")
SEVERITIES = ("low", "medium", "high")
_NOTICE = re.compile(r"#([0-9a-f]{12}-\d+)")


def burst(n: int, run: str) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        loan = f"L-{run}-{i:06d}"
        out.append(
            {
                "schema_version": 1,
                "warning_id": f"b{run}{i:07d}",
                "status": "open",
                "loan_id": loan,
                "borrower_id": f"bw-{i}",
                "rule_id": RULES[(i // len(TEAMS)) % len(RULES)],
                "rule_version": 1,
                "pack_digest": "bench",
                "severity": SEVERITIES[i % len(SEVERITIES)],
                "owner_team": TEAMS[i % len(TEAMS)],
                "message": f"{loan} needs a look",
                "episode": 1,
                "episode_key": "",
                "reasons": [{"name": "loan.dpd", "value": i % 90}],
                "score": None,
                "dpd": i % 90,
                "bucket": "M1",
                "klass": "special_mention",
                "event_id": None,
                "event_time": "2026-03-04T16:00:00+00:00",
                "produced_at": "2026-03-05T00:00:02.113+00:00",
            }
        )
    return out


class Receiver:
    """A JSON webhook on loopback recording (arrival time, notification ids) per message."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, list[str]]] = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        assert ready.wait(10)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def handle(request: web.Request) -> web.Response:
            body = await request.json()
            self.messages.append((time.perf_counter(), _NOTICE.findall(body["message"])))
            return web.Response(text="ok")

        async def start() -> None:
            app = web.Application()
            app.router.add_post("/{tail:.*}", handle)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self.port = runner.addresses[0][1]
            ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()


def bare_consume(settings: Settings, topic: str, total: int) -> float:
    consumer = Consumer(
        {
            **settings.kafka.confluent_config(),
            "group.id": f"bench-bare-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    seen, started = 0, None
    while seen < total:
        for msg in consumer.consume(2000, timeout=1.0):
            if msg.error() is not None:
                continue
            if started is None:
                started = time.perf_counter()
            orjson.loads(msg.value())
            seen += 1
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return seen / max(elapsed, 1e-9)


def routing(port: int, group_wait: str, group_interval: str) -> Any:
    return parse_config(
        {
            "route": {
                "receiver": "oncall",
                "group_by": ["team", "rule"],
                "group_wait": group_wait,
                "group_interval": group_interval,
                "repeat_interval": "4h",
            },
            "receivers": [
                {
                    "name": "oncall",
                    "urls": [f"json://127.0.0.1:{port}/hook"],
                    "rate_limit": {"count": 600, "per": "60s"},
                }
            ],
        }
    )


def produce(
    settings: Settings, topic: str, bodies: list[dict[str, Any]], spread_s: float
) -> dict[str, float]:
    """Produce the warnings (evenly over ``spread_s``, or at once); when each was sent."""
    producer = Producer({**settings.kafka.producer_config(), "linger.ms": 5})
    sent_at: dict[str, float] = {}
    start = time.perf_counter()
    for n, body in enumerate(bodies):
        if spread_s > 0:
            ahead = start + n * spread_s / len(bodies) - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
        sent_at[body["warning_id"]] = time.perf_counter()
        producer.produce(topic, key=body["loan_id"].encode(), value=orjson.dumps(body))
        producer.poll(0)
    assert producer.flush(60) == 0
    return sent_at


def phase(
    settings: Settings, receiver: Receiver, n: int, spread_s: float, args: argparse.Namespace
) -> dict[str, Any]:
    """One run on a fresh topic and Redis prefix; figures for it."""
    run = uuid.uuid4().hex[:6]
    topic = f"bench.{run}.warnings"
    admin = AdminClient(settings.kafka.confluent_config())
    admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])[topic].result(30)
    prefix = f"bench:{run}:"
    client = redis.Redis.from_url(settings.redis.url, **settings.redis.client_kwargs())
    receiver.messages.clear()
    bodies = burst(n, run)
    figures: dict[str, Any] = {}
    try:
        sent_at: dict[str, float] = {}
        if spread_s <= 0:
            produce(settings, topic, bodies, 0)
            figures["bare_warnings_per_s"] = round(bare_consume(settings, topic, n))
            print(f"bare consume+decode: {figures['bare_warnings_per_s']:,} /s", file=sys.stderr)
        else:
            feeder = threading.Thread(
                target=lambda: sent_at.update(produce(settings, topic, bodies, spread_s))
            )
        service = AlertService(
            settings,
            routing(receiver.port, args.group_wait, args.group_interval),
            topics=[topic],
            group_id=f"bench-alerts-{run}",
            prefix=prefix,
            history=None,
        )
        t_start = time.perf_counter()
        if spread_s > 0:
            feeder.start()
        ingested, first, last = 0, None, None
        while ingested < n:
            before = time.perf_counter()
            result = service.step()
            if result.ingested:
                first = first or before  # the first batch's own work counts too
                last = time.perf_counter()
                ingested += result.ingested
        handled = ingested / max((last or 0) - (first or 0), 1e-9)
        # Deliver: every warning must appear in some delivered notification.
        owner: dict[str, str] = {}
        seen_events = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(owner) < n:
            service.step()
            fresh = client.lrange(service.store.keys.events, seen_events, -1)
            seen_events += len(fresh)
            for raw in fresh:
                event = orjson.loads(raw)
                if event["kind"] == "sent":
                    owner.setdefault(event["warning_id"], event["notification_id"])
        service.step()
        service.close()
        if spread_s > 0:
            feeder.join()
        arrival: dict[str, float] = {}
        for at, notices in list(receiver.messages):
            for notice in notices:
                arrival.setdefault(notice, at)
        # Burst: the warnings waited in Kafka, so delay counts from the service's start.
        delays = [
            arrival[owner[w]] - sent_at.get(w, t_start)
            for w in (b["warning_id"] for b in bodies)
            if w in owner and owner[w] in arrival
        ]
        span = max((at for at, _ in receiver.messages), default=t_start) - t_start
        figures.update(
            {
                "warnings_per_s": round(handled),
                "notifications_sent": len(receiver.messages),
                "notifications_per_s": round(len(receiver.messages) / max(span, 1e-9), 2),
                "warnings_missing": n - len(delays),
                "max_delay_s": round(max(delays), 2) if delays else None,
            }
        )
    finally:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        admin.delete_topics([topic])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warnings", type=int, default=10_000)
    parser.add_argument("--group-wait", default="2s")
    parser.add_argument("--group-interval", default="5s")
    parser.add_argument(
        "--spread-s",
        type=float,
        default=0.0,
        help="also send the warnings evenly over this many seconds (e.g. 60), live",
    )
    args = parser.parse_args()

    settings = load_settings()
    local_stack.up(settings)
    receiver = Receiver()
    burst_figures = phase(settings, receiver, args.warnings, 0.0, args)
    print(f"burst: {burst_figures}", file=sys.stderr)
    figures: dict[str, Any] = {
        "warnings": args.warnings,
        **burst_figures,
        "ratio_vs_bare": round(
            burst_figures["warnings_per_s"] / burst_figures["bare_warnings_per_s"], 3
        ),
        "group_wait": args.group_wait,
        "group_interval": args.group_interval,
    }
    if args.spread_s > 0:
        live = phase(settings, receiver, args.warnings, args.spread_s, args)
        print(f"over {args.spread_s:g}s: {live}", file=sys.stderr)
        figures.update({f"spread_{k}": v for k, v in live.items()})
        figures["spread_s"] = args.spread_s
    for key, value in figures.items():
        print(f"{key:>28}: {value}", file=sys.stderr)
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
