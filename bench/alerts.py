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
   their warnings, so each warning's delay is its first arrival minus the burst's
   start.

    .venv/bin/python bench/alerts.py --warnings 10000

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
from pathlib import Path
from typing import Any

# Run as a script, this file's folder leads sys.path, and bench/sinks.py there would
# hide the `sinks` package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import orjson  # noqa: E402
import redis  # noqa: E402
from aiohttp import web  # noqa: E402
from confluent_kafka import Consumer, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from config import Settings, load_settings  # noqa: E402
from config import stack as local_stack  # noqa: E402
from sinks.alerts.routing import parse_config  # noqa: E402
from sinks.alerts.service import AlertService  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warnings", type=int, default=10_000)
    parser.add_argument("--group-wait", default="2s")
    parser.add_argument("--group-interval", default="5s")
    args = parser.parse_args()

    settings = load_settings()
    local_stack.up(settings)
    run = uuid.uuid4().hex[:6]
    topic = f"bench.{run}.warnings"
    admin = AdminClient(settings.kafka.confluent_config())
    admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])[topic].result(30)
    prefix = f"bench:{run}:"
    client = redis.Redis.from_url(settings.redis.url, **settings.redis.client_kwargs())
    receiver = Receiver()
    try:
        bodies = burst(args.warnings, run)
        producer = Producer({**settings.kafka.confluent_config(), "linger.ms": 5})
        t_burst = time.perf_counter()
        for body in bodies:
            producer.produce(topic, key=body["loan_id"].encode(), value=orjson.dumps(body))
            producer.poll(0)
        assert producer.flush(60) == 0
        produce_s = time.perf_counter() - t_burst
        print(f"burst of {len(bodies):,} produced in {produce_s:.2f}s", file=sys.stderr)

        bare = bare_consume(settings, topic, len(bodies))
        print(f"bare consume+decode: {bare:,.0f} warnings/s", file=sys.stderr)

        config = parse_config(
            {
                "route": {
                    "receiver": "oncall",
                    "group_by": ["team", "rule"],
                    "group_wait": args.group_wait,
                    "group_interval": args.group_interval,
                    "repeat_interval": "4h",
                },
                "receivers": [
                    {
                        "name": "oncall",
                        "urls": [f"json://127.0.0.1:{receiver.port}/hook"],
                        "rate_limit": {"count": 600, "per": "60s"},
                    }
                ],
            }
        )
        service = AlertService(
            settings,
            config,
            topics=[topic],
            group_id=f"bench-alerts-{run}",
            prefix=prefix,
            history=None,
        )
        # Re-base the burst at the service's start: the bare loop's time is not its delay.
        t_start = time.perf_counter()
        ingested, first, last = 0, None, None
        while ingested < len(bodies):
            before = time.perf_counter()
            result = service.step()
            if result.ingested:
                first = first or before  # the first batch's own work counts too
                last = time.perf_counter()
                ingested += result.ingested
        handled = ingested / max((last or 0) - (first or 0), 1e-9)
        print(f"alert service: {handled:,.0f} warnings/s handled", file=sys.stderr)

        # Deliver: every warning must appear in some delivered notification.
        owner: dict[str, str] = {}
        seen_events = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            service.step()
            fresh = client.lrange(service.store.keys.events, seen_events, -1)
            seen_events += len(fresh)
            for raw in fresh:
                event = orjson.loads(raw)
                if event["kind"] == "sent":
                    owner.setdefault(event["warning_id"], event["notification_id"])
            if len(owner) >= len(bodies):
                break
        service.step()
        service.close()
        arrival: dict[str, float] = {}
        for at, notices in receiver.messages:
            for notice in notices:
                arrival.setdefault(notice, at)
        ids = [b["warning_id"] for b in bodies]
        delays = [arrival[owner[w]] - t_start for w in ids if w in owner]
        missing = len(bodies) - len(delays)
        messages = len(receiver.messages)
        span = max((at for at, _ in receiver.messages), default=t_start) - t_start
    finally:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        admin.delete_topics([topic])

    figures: dict[str, Any] = {
        "warnings": len(bodies),
        "warnings_per_s": round(handled),
        "bare_warnings_per_s": round(bare),
        "ratio_vs_bare": round(handled / bare, 3),
        "notifications_sent": messages,
        "notifications_per_s": round(messages / max(span, 1e-9), 2),
        "warnings_missing": missing,
        "max_delay_s": round(max(delays), 2) if delays else None,
        "group_wait": args.group_wait,
        "group_interval": args.group_interval,
    }
    for key, value in figures.items():
        print(f"{key:>22}: {value}", file=sys.stderr)
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
