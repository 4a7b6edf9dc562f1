"""`seek_before_resume`: records prefetched during a table restore reach the agent, once.

The broker-facing parts (consumer and fetcher) are played by a stand-in that
does what Faust's fetcher does after a restore: it holds records prefetched for
the stream partition and hands each to the agent's queue once, as soon as that
partition is resumed and the event loop turns. Everything else is Faust's own:
the app, its table, its Recovery and the flow control that empties the stream
queues when it resumes. The SIGKILL tests in tests/integration exercise the
real thing, where this race shows only now and then.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import pytest
from faust.types import TP

from streams.faust_seam import seek_before_resume

STREAM = TP("events", 0)
CHANGELOG = TP("recovery-order-test-loans-changelog", 0)


class FetcherStandIn:
    """Consumer and fetcher after a restore: one prefetched stream record, delivered once."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue
        self.active: set[TP] = {CHANGELOG}
        self.prefetched = ["event at the committed offset"]
        self.calls: list[str] = []

    def assignment(self) -> set[TP]:
        return {STREAM, CHANGELOG}

    def resume_partitions(self, tps: Any) -> None:
        self.calls.append("resume")
        self.active |= set(tps)

    def stop_flow(self) -> None:
        self.calls.append("stop")

    def resume_flow(self) -> None:
        self.calls.append("flow")

    async def perform_seek(self) -> None:
        self.calls.append("seek")
        await asyncio.sleep(0)  # the committed offsets come back from the broker...
        self.deliver()  # ...while the fetcher runs

    async def maybe_start(self) -> None:
        self.deliver()

    def deliver(self) -> None:
        if STREAM in self.active and self.prefetched:
            self.queue.put_nowait(self.prefetched.pop())


def _recovery(*, fixed: bool) -> tuple[Any, FetcherStandIn, Any]:
    app = faust.App("recovery-order-test", broker="kafka://127.0.0.1:1", store="memory://")
    app.Table("loans", default=None, partitions=1)
    queue = app.FlowControlQueue(maxsize=10, clear_on_resume=True)  # as a stream's queue
    fetcher = FetcherStandIn(queue)
    app._consumer = fetcher  # type: ignore[assignment]
    app._fetcher = fetcher  # type: ignore[assignment]
    app.consumer_generation_id = 1
    if fixed:
        seek_before_resume(app)
        installed = app.tables.recovery.on_recovery_completed
        seek_before_resume(app)  # every assignment installs it: once is kept
        assert app.tables.recovery.on_recovery_completed is installed
    return app.tables.recovery, fetcher, queue


@pytest.mark.parametrize("fixed", [True, False], ids=["seek_before_resume", "faust_order"])
def test_a_record_prefetched_during_recovery_reaches_the_agent(fixed: bool) -> None:
    async def run() -> tuple[list[str], list[str], int]:
        recovery, fetcher, queue = _recovery(fixed=fixed)
        await recovery.on_recovery_completed(generation_id=1)
        return fetcher.calls, fetcher.prefetched, queue.qsize()

    calls, left, queued = asyncio.run(run())
    assert left == []  # the stand-in delivered its record in both orders
    if fixed:
        assert calls == ["stop", "seek", "resume", "flow"]
        assert queued == 1
    else:  # Faust's own order: delivered during the seek, then wiped by flow control
        assert calls == ["resume", "seek", "flow"]
        assert queued == 0


def test_a_recovery_without_the_expected_parts_is_refused() -> None:
    class Bare:
        on_recovery_completed = None

    class App:
        class tables:  # noqa: N801 - mimics the attribute path app.tables.recovery
            recovery = Bare()

    with pytest.raises(RuntimeError, match="faust-streaming 0.15.3"):
        seek_before_resume(App())
