"""`drain_fully`: a commit's flush waits until every record queued before it is published."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import pytest

from streams.producer_queue import drain_fully


def _buffer(sent: list[int], *, drained: bool) -> Any:
    """A real Faust ProducerBuffer whose first publish takes 0.3 s (a stalled loop)."""
    app = faust.App("producer-queue-test", broker="kafka://127.0.0.1:1")
    buffer = app.producer.buffer

    async def publish(message: int) -> None:
        if not sent:
            await asyncio.sleep(0.3)
        sent.append(message)

    buffer._send_pending = publish  # before start: the publishing task binds it then
    if drained:
        drain_fully(buffer)
    return buffer


async def _stop(buffer: Any) -> None:
    """Let the queue empty first: Faust refuses to stop a buffer that still holds messages."""
    for _ in range(100):
        if not buffer.size:
            break
        await asyncio.sleep(0.05)
    await buffer.stop()


@pytest.mark.parametrize("drained", [False, True])
async def test_the_flush_returns_once_everything_queued_before_it_is_published(
    drained: bool,
) -> None:
    sent: list[int] = []
    buffer = _buffer(sent, drained=drained)
    await buffer.start()
    try:
        for n in range(5):
            buffer.put(n)
        await buffer.flush()
        # Faust's own flush gives up after 0.1 s without progress: why drain_fully exists.
        assert (sent == [0, 1, 2, 3, 4]) is drained
    finally:
        await _stop(buffer)


async def test_a_record_being_published_is_waited_for_and_later_ones_are_not() -> None:
    sent: list[int] = []
    buffer = _buffer(sent, drained=True)
    await buffer.start()
    try:
        buffer.put(0)
        await asyncio.sleep(0.05)  # taken from the queue, its publish under way
        flushing = asyncio.ensure_future(buffer.flush())
        await asyncio.sleep(0.05)
        buffer.put(1)  # an event after the commit took its offsets
        await flushing
        assert sent[:1] == [0]
    finally:
        await _stop(buffer)


async def test_a_stalled_queue_gives_up_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    app = faust.App("producer-queue-test-stalled", broker="kafka://127.0.0.1:1")
    buffer = app.producer.buffer
    never = asyncio.Event()

    async def publish(message: int) -> None:
        await never.wait()  # a publisher that hangs

    buffer._send_pending = publish
    drain_fully(buffer, give_up_s=0.3)
    await buffer.start()
    try:
        buffer.put(0)
        await asyncio.wait_for(buffer.flush(), timeout=5)
        assert "stalled with 1 messages" in caplog.text
    finally:
        await buffer.stop()


async def test_stopping_with_records_queued_does_not_wait_for_them() -> None:
    sent: list[int] = []
    buffer = _buffer(sent, drained=True)
    await buffer.start()
    for n in range(5):
        buffer.put(n)
    await asyncio.wait_for(buffer.stop(), timeout=5)  # the stop's own flush returns
    assert len(sent) < 5


async def test_it_must_wrap_the_buffer_before_it_starts() -> None:
    buffer = _buffer([], drained=False)
    await buffer.start()
    try:
        with pytest.raises(RuntimeError, match="before it starts"):
            drain_fully(buffer)
    finally:
        await _stop(buffer)


def test_wrapping_twice_changes_nothing() -> None:
    buffer = _buffer([], drained=True)
    flush = buffer.flush
    drain_fully(buffer)
    assert buffer.flush is flush
