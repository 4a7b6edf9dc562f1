"""The cheapest Faust worker shaped like ours: the floor under `loanwatch worker`.

Per message it does only what the framework makes every judging step do: read
the key's row from a RocksDB table, write a row (which also goes to the
changelog), and send one output message. No decoding, no rules. `bench/stream.py`
runs it over the same topic as the real worker, so the run shows how much of the
worker's cost is Faust's and how much is ours.

Run by `bench/stream.py` as a subprocess; settings come from the environment:
``FLOOR_APP_ID``, ``FLOOR_SOURCE``, ``FLOOR_TARGET``, ``FLOOR_DATA_DIR``,
``FLOOR_BROKER``, ``FLOOR_PARTITIONS``, ``FLOOR_LINGER_MS``.
"""

from __future__ import annotations

import os
import sys

import faust


def create_floor_app() -> faust.App:
    raw = {
        "key_type": bytes,
        "value_type": bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    app = faust.App(
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
    source = app.topic(os.environ["FLOOR_SOURCE"], **raw)
    target = app.topic(os.environ["FLOOR_TARGET"], **raw)
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


if __name__ == "__main__":
    floor_app = create_floor_app()
    sys.argv = ["floor", "worker", "--loglevel", "warn", "--without-web"]
    floor_app.main()
