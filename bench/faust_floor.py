"""The cheapest Faust workers: the floor under `loanwatch worker`, and Faust's own ceiling.

``FLOOR_MODE=floor`` (the default): the cheapest Faust worker shaped like ours.
Per message it does only what the framework makes every judging step do: read
the key's row from a RocksDB table, write a row (which also goes to the
changelog), and send one output message. No decoding, no rules.

``FLOOR_MODE=noop``: an agent that does nothing, ``async for event in
stream.events(): pass``, with no table: what Faust itself costs per message.
It times itself, from its first event to its ``FLOOR_EXPECT``-th, and prints
``{"events": .., "seconds": ..}`` as one JSON line on stdout; at several
thousand events a second it would be done before Faust's first commit (every
2.8 s), so the committed offsets cannot time it.

`bench/stream.py` runs both as subprocesses over the same topic as the real
worker, so the run shows how much of the worker's cost is Faust's and how much
is ours. Settings come from the environment: ``FLOOR_APP_ID``,
``FLOOR_SOURCE``, ``FLOOR_TARGET``, ``FLOOR_DATA_DIR``, ``FLOOR_BROKER``,
``FLOOR_PARTITIONS``, ``FLOOR_LINGER_MS``, ``FLOOR_MODE``, ``FLOOR_EXPECT``.
"""

from __future__ import annotations

import os
import sys
import time

import faust
import orjson

_RAW = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}


def _app() -> faust.App:
    return faust.App(
        os.environ["FLOOR_APP_ID"],
        broker=os.environ["FLOOR_BROKER"],
        store="rocksdb://",
        datadir=os.environ["FLOOR_DATA_DIR"],
        topic_partitions=int(os.environ["FLOOR_PARTITIONS"]),
        topic_replication_factor=1,
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        producer_linger_ms=int(os.environ.get("FLOOR_LINGER_MS", "5")),
    )


def create_floor_app() -> faust.App:
    app = _app()
    source = app.topic(os.environ["FLOOR_SOURCE"], **_RAW)
    target = app.topic(os.environ["FLOOR_TARGET"], **_RAW)
    rows = app.Table(
        "rows",
        default=None,
        partitions=int(os.environ["FLOOR_PARTITIONS"]),
        key_type=bytes,
        value_type=bytes,
    )

    @app.agent(source, name="floor")
    async def floor(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            key = message.key or b""
            rows.get(key)  # a judging step reads its loan first
            rows[key] = ((message.value or b"") * 8)[:2048]  # a typical loan row's size
            await target.send(key=key, value=message.value)

    return app


def create_noop_app() -> faust.App:
    app = _app()
    source = app.topic(os.environ["FLOOR_SOURCE"], **_RAW)
    expect = int(os.environ["FLOOR_EXPECT"])

    @app.agent(source, name="noop")
    async def noop(stream: faust.StreamT[bytes]) -> None:
        seen, first = 0, 0.0
        async for _event in stream.events():
            seen += 1
            if seen == 1:
                first = time.perf_counter()
            elif seen == expect:  # the first event's own work is not timed: n - 1 events
                took = time.perf_counter() - first
                # To the descriptor: Faust's worker sends sys.stdout to its logger.
                os.write(1, orjson.dumps({"events": seen - 1, "seconds": took}) + b"\n")

    return app


if __name__ == "__main__":
    mode = os.environ.get("FLOOR_MODE", "floor")
    floor_app = create_noop_app() if mode == "noop" else create_floor_app()
    sys.argv = ["floor", "worker", "--loglevel", "warn", "--without-web"]
    floor_app.main()
