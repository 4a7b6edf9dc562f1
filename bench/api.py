"""API benchmark: ``GET /v1/loans/{id}`` under 32 concurrent clients on loopback, against
the bare Redis lookup of the same cards in the same run.

1. N risk cards (default 2,000, one open warning each) are written into a fresh Redis
   prefix by the Redis sink's own script (`RedisWriter.apply`), and an ``integration``
   API key is made there.
2. Baseline: 32 asyncio clients read the cards straight from Redis as `lookup` does
   (one pipeline of HGETALL, HGETALL, LRANGE per card, JSON-decoded), for ``--seconds``.
3. `loanwatch api` runs in its own process (as deployed: key check, role, masking,
   audit rows into a scratch ClickHouse database) and 32 aiohttp clients, each on its
   own keep-alive connection, GET random cards for ``--seconds``.

    .venv/bin/python bench/api.py --cards 2000 --seconds 10

Ends with one JSON line:
{"card_requests_per_s": .., "card_p99_ms": .., "ratio_vs_bare_redis": .., "auth": "api-key"}
"""

# ruff: noqa: E402 - the path fix below must run before the project's imports

from __future__ import annotations

import sys
from pathlib import Path

# This script shares its name with the `api` package; run as a file, its own folder
# comes first on sys.path and `import api` would find the script instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import redis
import redis.asyncio as aioredis
from clickhouse_driver import Client

from api.keys import KeyStore
from api.roles import Role
from config import Settings, load_settings
from sinks.redis.keys import RedisKeys
from sinks.redis.writer import RedisWriter, parse_warning

CLIENTS = 32


def card_warning(i: int, run: str) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "warning_id": f"bench{run}{i:07d}",
        "status": "open",
        "loan_id": f"L-{run}-{i:06d}",
        "borrower_id": f"bw-{i % 997}",
        "rule_id": "dpd_30",
        "rule_version": 1,
        "pack_digest": "9b1f",
        "severity": ("low", "medium", "high")[i % 3],
        "owner_team": "collections",
        "message": f"loan {i} is 30 days past due",
        "episode": 1,
        "episode_key": "",
        "reasons": [{"name": "loan.dpd", "value": 30}],
        "score": 0.31,
        "dpd": 30,
        "bucket": "M1",
        "klass": "special_mention",
        "event_id": None,
        "event_time": "2026-03-04T16:00:00+00:00",
        "produced_at": "2026-03-05T00:00:02.113+00:00",
    }


def seed(settings: Settings, prefix: str, n: int, run: str) -> list[str]:
    client = redis.Redis.from_url(settings.redis.url, **settings.redis.client_kwargs())

    class _NoConsumer:  # the writer's script alone: nothing is read from Kafka
        def close(self) -> None: ...

    writer = RedisWriter(settings, prefix=prefix, client=client, consumer=_NoConsumer())
    bodies = [card_warning(i, run) for i in range(n)]
    for start in range(0, n, 500):
        writer.apply([parse_warning(orjson.dumps(b)) for b in bodies[start : start + 500]])
    return [b["loan_id"] for b in bodies]


async def drive(
    call: Callable[[str], Awaitable[None]], loans: list[str], seconds: float
) -> tuple[float, list[float]]:
    """32 clients calling back to back for ``seconds``: (requests per second, latencies)."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    rng = random.Random(7)  # noqa: S311 - which card, not a secret

    async def client() -> None:
        while time.perf_counter() < deadline:
            loan = loans[rng.randrange(len(loans))]
            started = time.perf_counter()
            await call(loan)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return len(latencies) / (time.perf_counter() - started), latencies


async def bare_redis(settings: Settings, prefix: str, loans: list[str], seconds: float) -> Any:
    client = aioredis.Redis.from_url(settings.redis.url, max_connections=CLIENTS)
    keys = RedisKeys(prefix)

    async def call(loan: str) -> None:
        pipe = client.pipeline(transaction=False)
        pipe.hgetall(keys.card(loan))
        pipe.hgetall(keys.open(loan))
        pipe.lrange(keys.recent(loan), 0, -1)
        card, opened, recent = await pipe.execute()
        assert card, loan
        [orjson.loads(v) for v in opened.values()]
        [orjson.loads(v) for v in recent]

    try:
        await drive(call, loans, 1.0)  # warm the pool
        return await drive(call, loans, seconds)
    finally:
        await client.aclose()


async def through_api(url: str, token: str, loans: list[str], seconds: float) -> Any:
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def call(loan: str) -> None:
            async with session.get(f"{url}/v1/loans/{loan}") as response:
                body = await response.read()
                assert response.status == 200, body[:200]

        await drive(call, loans, 1.0)
        return await drive(call, loans, seconds)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_api(prefix: str, database: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LOANWATCH_REDIS__KEY_PREFIX": prefix,
        "LOANWATCH_CLICKHOUSE__DATABASE": database,
        "LOANWATCH_API__PORT": str(port),
    }
    cli = os.path.join(os.path.dirname(sys.executable), "loanwatch")
    proc = subprocess.Popen([cli, "api"], env=env, stdout=subprocess.DEVNULL)  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("loanwatch api exited before serving") from None
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("loanwatch api did not start within 60 s")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux ``/proc``): what a request
    costs the server, which other processes on the machine do not change."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def figures(name: str, rate: float, latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    print(f"{name:>12}: {rate:9,.0f} /s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms", file=sys.stderr)
    return {"per_s": round(rate, 1), "p50_ms": round(p50, 3), "p99_ms": round(p99, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    settings = load_settings()
    run = uuid.uuid4().hex[:8]
    prefix, database = f"bench:api:{run}:", f"bench_api_{run}"
    loans = seed(settings, prefix, args.cards, run)
    client = redis.Redis.from_url(settings.redis.url, **settings.redis.client_kwargs())
    unlimited = 10**9  # the bench measures the API, not its rate limit
    token = KeyStore(client, prefix).create("bench", Role.INTEGRATION, rate_per_minute=unlimited)[1]
    print(f"{len(loans):,} cards under {prefix}; {CLIENTS} clients", file=sys.stderr)
    admin = Client(**settings.clickhouse.driver_kwargs(database="default"))
    proc = None
    try:
        bare = figures(
            "bare redis", *asyncio.run(bare_redis(settings, prefix, loans, args.seconds))
        )
        port = free_port()
        proc = start_api(prefix, database, port)
        url = f"http://127.0.0.1:{port}"
        asyncio.run(through_api(url, token, loans, 1.0))  # warm the server
        before = cpu_s(proc.pid)
        rate, latencies = asyncio.run(through_api(url, token, loans, args.seconds))
        server_us = (cpu_s(proc.pid) - before) / max(1, len(latencies)) * 1e6
        api = figures("api", rate, latencies)
        print(f"{'server CPU':>12}: {server_us:9,.0f} us per request", file=sys.stderr)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        admin.execute(f"DROP DATABASE IF EXISTS {database}")
        admin.disconnect()
        stale = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(stale), 1000):
            client.delete(*stale[start : start + 1000])
        client.close()
    print(
        orjson.dumps(
            {
                "card_requests_per_s": api["per_s"],
                "card_p50_ms": api["p50_ms"],
                "card_p99_ms": api["p99_ms"],
                "bare_redis_per_s": bare["per_s"],
                "bare_redis_p99_ms": bare["p99_ms"],
                "ratio_vs_bare_redis": round(api["per_s"] / bare["per_s"], 3),
                "server_cpu_us_per_request": round(server_us),
                "auth": "api-key",
            }
        ).decode()
    )


if __name__ == "__main__":
    main()
