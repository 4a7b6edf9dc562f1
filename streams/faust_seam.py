"""Every use of Faust's and aiokafka's internals, in one place, for one Faust version.

The worker (`streams.worker`) reaches below Faust's public API where the public
API would cost it its speed or its correctness; each reach is a function here,
so an upgrade of Faust is reviewed against this module alone. It was written
against faust-streaming 0.15.3 and aiokafka 0.14.0 (pyproject pins the versions
the tests ran); importing it under another Faust logs a warning naming both.

- `committed_offset`: the offset a partition's restore sought to (Faust's
  consumer keeps it in a private map), which `streams.continuity` checks the
  first record of an assignment against.
- `send_in_transaction`: under ``exactly_once``, a send inside the transaction
  of the *source* partition. Faust picks a transaction by the destination
  partition of a topic the app consumes; our outputs go to topics it does not
  consume, so Faust would send them outside any transaction and a crash would
  repeat them to read_committed readers.
- `store_get` / `store_put` / `store_delete`: a table's RocksDB store, read and
  written for a given partition. A Faust table write goes through the current
  event (which a batch of events does not have: "Cannot modify table key from
  outside of stream iteration") and queues its changelog record; the batched
  worker writes each changed row once per batch and sends its changelog
  record itself (`streams.staged`), in the order its durability needs.
- `changelog_delivered`: what Faust does when a changelog record of its own is
  delivered (the store remembers the offset, so a restart with kept files
  recovers only what came after it).
- `set_fetch_wait`: the consumer's fetch wait, which Faust fixes at 1.5 s.
- `take_batches`: Faust's ``Stream.take_events`` with one change: a batch
  also ends as soon as the stream's queue holds nothing more. Faust's waits out
  the whole window unless the batch is full, which in the live phase (a few
  events at a time) adds the window to every event's latency and leaves the
  worker idle while events queue at the broker.
- `tables_dir`: where Faust keeps table files under the data folder
  (`streams.local_state` removes them after an unclean stop).
- `seek_before_resume`: the table restore's hand-over to the stream, with the
  seek moved before the resume (below).
- `CLIENT_LOGGERS` and `connection_failure`: which loggers a broker outage
  floods (aiokafka retries every 100 ms and logs each failed attempt), and which
  of their records say a broker could not be reached (`streams.kafka_watch`
  turns them into one line).

After a table restore, seek the stream partitions before resuming them, so no
event is lost. Faust's ``Recovery.on_recovery_completed`` hands the stream back
in this order: resume the stream partitions, *await* a seek to the committed
offsets, resume flow control. While the tables were restoring, the fetcher kept
prefetching the stream partitions; once they are resumed, the fetcher delivers
those records into the agents' queues during the awaited seek, and advances its
read offsets past them. Then ``flow_control.resume()`` empties every stream
queue (mode's FlowControlQueue with ``clear_on_resume``), so the delivered
records are dropped unjudged, and the re-fetch after the seek cannot bring them
back: the fetcher drops records below its read offset, and Faust's gap tracking
can even count them as done and commit past them. Seen after a SIGKILL and
restart as a block of 10-20 consecutive events per partition never judged (the
worker then dead-lettered later events of a loan whose disbursement was in the
block): found with repeated kills of an exactly_once worker, the log segments
read with Kafka's DumpLogSegments, and Faust's fetcher instrumented (its read
offsets were already past the committed ones when the seek ran). Both
processing guarantees share the path.

`seek_before_resume` gives the app's Recovery the same steps in a safe order:
seek while the stream partitions are still paused and the consumer's flow is
stopped (nothing is delivered or consumed), then resume the partitions, flow
control, the flow and the fetcher with no await in between. (Seeking while
paused but with the flow running stalled a restarted worker's stream now and
then: see the comment at the seek.)
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from types import MethodType
from typing import Any

import aiokafka
import faust
from aiokafka.errors import KafkaConnectionError, NodeNotReadyError
from mode.utils.aiter import aiter
from mode.utils.futures import notify

__all__ = [
    "AIOKAFKA_WRITTEN_FOR",
    "CLIENT_LOGGERS",
    "WRITTEN_FOR",
    "changelog_delivered",
    "committed_offset",
    "connection_failure",
    "seek_before_resume",
    "send_in_transaction",
    "set_fetch_wait",
    "store_delete",
    "store_get",
    "store_put",
    "take_batches",
    "tables_dir",
]

log = logging.getLogger("loanwatch.worker")

WRITTEN_FOR = "0.15.3"
"""The faust-streaming release this module was read against (with aiokafka 0.14.0)."""
AIOKAFKA_WRITTEN_FOR = "0.14.0"
"""The aiokafka release whose log messages `connection_failure` knows."""

for _name, _installed, _read in (
    ("faust-streaming", faust.__version__, WRITTEN_FOR),
    ("aiokafka", aiokafka.__version__, AIOKAFKA_WRITTEN_FOR),
):
    if _installed != _read:
        log.warning(
            "%s %s is installed; streams/faust_seam.py was written against %s: review it "
            "before trusting the worker's recovery, transactions and outage reports",
            _name,
            _installed,
            _read,
        )


def committed_offset(app: Any, tp: Any) -> int | None:
    """The offset Faust's consumer holds as committed (or sought to) for ``tp``."""
    found: int | None = app.consumer._committed_offset.get(tp)
    return found


async def send_in_transaction(
    app: Any,
    source_topic: str,
    source_partition: int,
    topic: str,
    key: bytes | None,
    value: bytes | None,
    partition: int | None = None,
    headers: Any = None,
) -> Any:
    """Send inside the open transaction of ``source_topic``'s ``source_partition``.

    Returns the delivery future (awaiting it waits for the broker's answer).
    """
    group = app.assignor.group_for_topic(source_topic)
    return await app.consumer.transactions.producer.send(
        topic,
        key,
        value,
        partition,
        None,
        headers,
        transactional_id=f"{app.conf.id}-{group}-{source_partition}",
    )


def _db(table: Any, partition: int) -> Any:
    return table.data._db_for_partition(partition)


def store_get(table: Any, partition: int, key: bytes) -> bytes | None:
    """A table's stored value for ``key`` in ``partition``'s RocksDB; ``None`` when absent."""
    found: bytes | None = _db(table, partition).get(key)
    return found


def store_put(table: Any, partition: int, key: bytes, value: bytes) -> None:
    """Write ``partition``'s RocksDB only: no changelog record (the caller sends it)."""
    _db(table, partition).put(key, value)
    table.data._key_index[key] = partition


def store_delete(table: Any, partition: int, key: bytes) -> None:
    """Delete from ``partition``'s RocksDB only: no changelog tombstone (the caller sends it)."""
    _db(table, partition).delete(key)
    table.data._key_index.pop(key, None)


def changelog_delivered(table: Any, metadata: Any, exactly_once: bool) -> None:
    """A changelog record we sent is on the broker: the store may start recovery past it.

    What Faust's own ``Table._on_changelog_sent`` does for the records it sends:
    under ``exactly_once`` the offset counts once its transaction commits.
    """
    if exactly_once:
        tables = table.app.tables
        tables.persist_offset_on_commit(table.data, metadata.topic_partition, metadata.offset)
    else:
        table.data.set_persisted_offset(metadata.topic_partition, metadata.offset)


def set_fetch_wait(app: Any, wait_ms: int) -> None:
    """Bound how long the consumer's fetch request waits at the broker for new records.

    Faust creates its aiokafka consumer with ``fetch_max_wait_ms=1500``, a constant
    no setting reaches. aiokafka keeps one fetch in flight per broker and leaves a
    partition out of it while that partition still has records waiting; once
    they are judged, that partition's next records wait for the request in flight,
    which the broker holds up to this wait when the others have nothing new. Seen
    as ~1 s stalls every ~2 s of a steady stream (bench/stream.py, a quarter of the
    load: p50 1,117 ms with 1,500 against 54 ms with 50). The fetcher reads the
    value for every request it builds, so setting it on the running consumer is
    enough; called on each assignment (the consumer exists by then).
    """
    consumer = getattr(app.consumer._thread, "_consumer", None)
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is not None:
        fetcher._fetch_max_wait_ms = wait_ms


CLIENT_LOGGERS = ("aiokafka", "faust.transport.drivers.aiokafka", "mode.timers")
"""The loggers a broker outage floods: aiokafka's (every module logs under
``aiokafka``), Faust's consumer (its slow-processing warnings after minutes without
a commit) and mode's timers (``Timer commit is overlapping`` once the commit the
outage held up returns)."""

# aiokafka's messages (client.py) that say a broker did not answer, whatever the error.
_UNREACHABLE = frozenset(
    {
        "Unable connect to node with id %s: %s",
        'Unable connect to "%s:%s": %s',
        "Unable to update metadata from %s",
        'Unable to request metadata from "%s:%s": %s',
        "Unable to request metadata from node with id %s: %r",
    }
)


def connection_failure(record: logging.LogRecord) -> str | None:
    """The reason when ``record`` is aiokafka failing to reach a broker, else ``None``.

    A failure that names no reason of its own (``NodeNotReadyError``: the
    connection is still down; ``Unable to update metadata``) gives ``""``. A
    refused or reset connection is told in the system's words.
    """
    if not record.name.startswith("aiokafka"):
        return None
    args = record.args if isinstance(record.args, tuple) else ()
    errors = [arg for arg in args if isinstance(arg, BaseException)]
    unreachable = record.msg in _UNREACHABLE or any(
        isinstance(error, OSError | KafkaConnectionError | NodeNotReadyError) for error in errors
    )
    if not unreachable:
        return None
    for error in errors:
        if isinstance(error, OSError):
            return os.strerror(error.errno) if error.errno else str(error) or type(error).__name__
        if isinstance(error, KafkaConnectionError):  # its str() leads with the class name
            return str(error.args[0]) if error.args else "connection closed"
    return ""


async def take_batches(stream: Any, max_: int, within: float) -> AsyncIterator[list[Any]]:
    """Batches of a stream's events: up to ``max_``, ended early when nothing more is queued.

    A copy of faust-streaming 0.15.3's ``Stream.take_events`` (the same acks
    after each batch, the same strict ``max_``) whose buffer also counts as
    full when the stream's channel queue is empty once an event was added: in
    a catch-up the queue stays full and batches reach ``max_``; live, a batch
    is what had arrived, judged at once. ``within`` still bounds the wait.
    """
    buffer: list[Any] = []
    events: list[Any] = []
    full = asyncio.Event()
    consumed = asyncio.Event()
    consuming: asyncio.Future[None] | None = None
    channel = stream.channel
    enable_acks = stream.enable_acks

    async def add_to_buffer(value: Any) -> Any:
        nonlocal consuming
        try:
            if consuming is not None:
                try:
                    await consuming
                finally:
                    consuming = None
            buffer.append(value)
            event = stream.current_event
            if event is None:
                raise RuntimeError("Take buffer found current_event is None")
            events.append(event)
            if len(buffer) >= max_:
                full.set()
                consumed.clear()
                await stream.wait(consumed)
            elif channel.empty():
                full.set()  # nothing more in hand: judge what came
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            stream.log.exception("Error adding to take buffer: %r", exc)
            await stream.crash(exc)
        return value

    stream.enable_acks = False
    stream.add_processor(add_to_buffer)
    stream._enable_passive(aiter(channel))
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(full, timeout=within)
            if buffer:
                consuming = stream.loop.create_future()
                try:
                    yield list(events)
                finally:
                    buffer.clear()
                    for event in events:
                        await stream.ack(event)
                    events.clear()
                    notify(consuming)
                    full.clear()
                    consumed.set()
            else:
                full.clear()
    finally:
        stream.enable_acks = enable_acks
        stream._processors.remove(add_to_buffer)


def tables_dir(data_dir: Path) -> Path:
    """Faust's table folder under the app's data folder (its ``tabledir``, versioned v1)."""
    return data_dir / "v1" / "tables"


# What the replacement touches on Faust's Recovery; checked when installed, so
# an upgrade that renames any of it fails at start instead of misbehaving.
_NEEDED = (
    "on_recovery_completed",
    "_set_recovery_ended",
    "_is_changelog_tp",
    "_wait",
    "actives_for_table",
    "standbys_for_table",
    "completed",
    "tables",
)


def seek_before_resume(app: Any) -> None:
    """Install the safe hand-over on ``app``'s table Recovery; idempotent.

    Called on every partition assignment, which comes before the recovery it
    governs; not at app creation, where touching the Recovery would build it
    before the worker's event loop exists.
    """
    recovery = app.tables.recovery
    if getattr(recovery.on_recovery_completed, "__func__", None) is _on_recovery_completed:
        return
    missing = [name for name in _NEEDED if not hasattr(recovery, name)]
    if missing:
        raise RuntimeError(
            f"faust's Recovery lacks {missing}: streams/faust_seam.py was written "
            "for faust-streaming 0.15.3 (see constraints.txt)"
        )
    recovery.on_recovery_completed = MethodType(_on_recovery_completed, recovery)


async def _on_recovery_completed(self: Any, generation_id: int = 0) -> None:
    """Faust's on_recovery_completed with the seek moved before the resume."""
    app = self.app
    consumer = app.consumer
    self.log.info("Restore complete!")
    await app.on_rebalance_complete.send()
    self._set_recovery_ended()
    callbacks = [
        asyncio.ensure_future(
            table.on_recovery_completed(
                self.actives_for_table[table], self.standbys_for_table[table]
            )
        )
        for table in self.tables.values()
    ]
    if callbacks:
        await asyncio.wait(callbacks)
    if _rebalancing(self, generation_id):
        return
    if consumer.assignment():
        # Flow stopped for the seek: with every partition paused Faust's active set
        # is empty, and aiokafka reads an empty set as "all partitions", so a fetch
        # running now could hand over (and move past) stream records that Faust
        # then drops as paused, after the seek: the stream would stall there. With
        # the flow stopped Faust takes no records, and seeks back itself if a
        # fetch already under way returns some.
        consumer.stop_flow()
        self.log.info("Seek stream partitions to committed offsets (still paused).")
        await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
        if _rebalancing(self, generation_id):  # the seek awaited: look again
            return
    # From here to the fetcher's start nothing awaits, so no record reaches a
    # stream queue before flow control has emptied the queues.
    consumer.resume_partitions(
        {tp for tp in consumer.assignment() if not self._is_changelog_tp(tp)}
    )
    self.completed.set()
    app.flow_control.resume()
    consumer.resume_flow()
    await app._fetcher.maybe_start()
    self.tables.on_actives_ready()
    if not app.assignor.assigned_standbys():
        self.tables.on_standbys_ready()
    app.on_rebalance_end()
    self.log.info("Worker ready")


def _rebalancing(recovery: Any, generation_id: int) -> bool:
    if recovery.app.consumer_generation_id == generation_id:
        return False
    recovery.log.warning(
        "Recovery rebalancing again app id %s param %s",
        recovery.app.consumer_generation_id,
        generation_id,
    )
    return True
