"""Faust's producer queue, published up to the commit before offsets are committed.

A table write queues its changelog record in Faust's `ProducerBuffer`, which a
background task publishes in order. Before committing the offsets it took, the
at-least-once commit flushes that queue, but ``ProducerBuffer.flush`` returns
as soon as 0.1 s passes without a message published (a full garbage
collection, or a wait for metadata, is enough), leaving records queued behind
offsets already committed. A worker killed then loses those records for good:
its replacement restores loans without events their offsets say were judged,
and judges the later ones from that older state. `drain_fully` makes the flush
wait until everything queued when it began has been handed to the Kafka
client, whose own flush the commit awaits next. Records queued meanwhile
belong to events the commit did not take, so the flush does not wait for them:
under steady load the queue is never empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

__all__ = ["drain_fully"]

log = logging.getLogger(__name__)


def drain_fully(buffer: Any, *, give_up_s: float = 60.0) -> None:
    """Make ``buffer.flush()`` (a Faust `ProducerBuffer`) wait for what was queued before it.

    Counts messages put and messages published (the queue is first in, first
    out), so it must be installed before the buffer starts: its publishing task
    binds the publish method when it starts. Bounded by ``give_up_s`` without
    progress (the publishing task stopped): the flush then returns as Faust's
    would, with a warning, rather than holding the commit, and so the worker,
    for ever. A buffer that is stopping publishes nothing more, so its flush
    (Faust's last one, at shutdown) returns at once.
    """
    if getattr(buffer, "drains_fully", False):
        return
    if buffer.state != "init":
        raise RuntimeError("drain_fully must wrap the producer buffer before it starts")
    counts = {"put": 0, "published": 0}
    put, publish = buffer.put, buffer._send_pending

    def counted_put(fut: Any) -> None:
        put(fut)
        counts["put"] += 1

    async def counted_publish(fut: Any) -> None:
        await publish(fut)
        counts["published"] += 1

    async def flush() -> None:
        target = counts["put"]
        done, stalled_since = counts["published"], time.monotonic()
        while counts["published"] < target:
            if buffer.state != "running":
                return  # stopping: its publishing task ends after the message in hand
            buffer.message_sent.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(buffer.message_sent.wait(), timeout=0.1)
            if counts["published"] > done:
                done, stalled_since = counts["published"], time.monotonic()
            elif time.monotonic() - stalled_since > give_up_s:
                left = target - done
                log.warning("producer queue stalled with %d messages; committing anyway", left)
                return

    buffer.put = counted_put
    buffer._send_pending = counted_publish
    buffer.flush = flush
    buffer.drains_fully = True
