"""The judging worker: a batch of messages in, outputs and rows out, durable before acked.

`streams.app` builds the Faust app and hands each batch its ``judge`` agent
takes (`streams.faust_seam.take_batches`: Faust's `take_events`, ended early
once nothing more is queued) to `Worker.judge_batch`. A batch goes:

1. Each message in its arrival order (a loan's events stay in order on its
   partition): an event found on a partition other than its key's (another
   producer's partitioner) is forwarded to its key's partition with its
   original bytes (`forward`); otherwise it is admitted (decoded, its key
   checked), stepped by the core through `streams.judging.Runtime` and its
   outputs sent. Under the event clock, the ticks its partition owes are
   judged first (`tick_owed`). Bad input and any exception of one step become
   dead letters (`reject`); the batch goes on.
2. Rows: a loan stepped several times in the batch is written once, with its
   last row (`streams.staged`); model checkpoints likewise.
3. `flush`: the batch's outputs, dead letters and forwards are delivered
   first, then the rows' changelog records are sent and RocksDB written, and
   those records are delivered. Only then does the agent return the batch to
   Faust, which acks its offsets: an offset is never committed ahead of what
   its message led to. If the process dies between outputs and rows, the
   events are judged again on restart and their outputs repeat with the same
   ids (sinks collapse them); the other order could lose outputs for good,
   since a replayed event the table already holds is skipped as a duplicate.
   Under ``exactly_once`` every send joins the transaction of its message's
   source partition (`streams.faust_seam.send_in_transaction`), so outputs,
   rows and offsets commit together.

Sends are not awaited one by one: the Kafka client batches them into few,
large produce requests, and `flush` awaits their deliveries together.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from config import Settings
from rules import EventDecodeError
from rules.core import Tick
from rules.events import Event
from streams import faust_seam
from streams.continuity import OffsetWatch
from streams.dlq import Origin, dead_letter
from streams.heap import HeapKeeper
from streams.judging import Runtime
from streams.outputs import metrics_outputs, outputs_of
from streams.partitioning import KeyPartitioner
from streams.rules_feed import FileWatcher
from streams.staged import StagedTable
from streams.stored import header_only

__all__ = ["FORWARDED_FROM", "Worker"]

log = logging.getLogger("loanwatch.worker")

FORWARDED_FROM = "loanwatch-forwarded-from"
"""Header of a forwarded event: ``topic/partition/offset`` where it was first found."""

_TICK_PACE_S = 0.1
"""Seconds between slices of wall-clock ticks (`WorkerSettings.clock_ticks_per_s`)."""


class Worker:
    """One worker process's judging, sending, storing, rejecting and clock."""

    def __init__(
        self,
        app: Any,
        settings: Settings,
        runtime: Runtime,
        loans: Any,
        models: Any | None,
        ticks: Any,
    ) -> None:
        self.app = app
        self.settings = settings
        self.rt = runtime
        self.loans = loans
        self.models = models
        self.ticks = ticks
        """The Faust topic of the wall clock's ticks. Outputs and dead letters are sent
        by topic name (`send`), not through Faust topics."""
        worker = settings.worker
        self.exactly_once = worker.processing_guarantee == "exactly_once"
        self.event_clock = worker.clock == "event"
        self.ticks_name = ticks.get_topic_name()
        self.events_name = settings.topics.events
        self.dlq_name = settings.topics.dlq
        self.partitioner = KeyPartitioner(settings.topics.partitions)
        self.rows = StagedTable(lambda p, key: faust_seam.store_get(loans, p, key))
        self.checkpoints = (
            StagedTable(lambda p, key: faust_seam.store_get(models, p, key))
            if models is not None
            else None
        )
        self.watch = OffsetWatch(lambda tp: faust_seam.committed_offset(app, tp))
        self.heap = HeapKeeper(worker.heap_settle_interval_s)
        self.watcher = (
            FileWatcher(worker.rules_file, runtime.install) if worker.rules_file else None
        )
        # Wall clock: ticks per slice, a slice every _TICK_PACE_S. The event clock
        # judges owed ticks inline (`tick_owed`), unpaced.
        self.tick_slice = max(1, round(worker.clock_ticks_per_s * _TICK_PACE_S))
        self._deliveries: list[Any] = []
        self._message: Any = None  # the message being judged (its transaction, under exactly_once)

    # -- the batch -------------------------------------------------------------

    async def judge_batch(self, events: Sequence[Any]) -> None:
        """Judge ``events`` (Faust events, in arrival order); durable when this returns."""
        if not self.rt.indexed:
            self.rebuild_indexes()
        for event in events:
            message = event.message
            self._message = message
            self._see_offset(message)
            if message.topic == self.ticks_name:
                await self._judge(message, tick=True)
            elif (home := self._home(message)) is not None:
                await self.forward(message, home)
            else:
                await self._judge(message, tick=False)
        try:
            await self.flush()
        except BaseException:
            self.forget_batch()
            raise

    def forget_batch(self) -> None:
        """After a flush that failed: nothing of the batch stays in memory but the table.

        Its rows and checkpoints are dropped (their outputs may not have reached
        Kafka) and the clock index is rebuilt from the table before the next
        batch; cached records no longer match the table's bytes, so they are
        decoded afresh. The batch's offsets were never acked: a restarted worker
        judges its events again.
        """
        self.rows.discard()
        if self.checkpoints is not None:
            self.checkpoints.discard()
        self._deliveries.clear()
        self.rt.indexed = False
        self.rt.records.clear()
        if self.rt.models is not None:
            self.rt.models.forget()

    def _home(self, message: Any) -> int | None:
        """The key's partition when the event is not on it (``None``: judge it here)."""
        key = message.key
        if not key:
            return None  # no key to place it by: `Runtime.admit` dead-letters it here
        home = self.partitioner.of(key)
        return home if home != message.partition else None

    async def _judge(self, message: Any, tick: bool) -> None:
        rt = self.rt
        partition = message.partition
        item: Event | Tick | None = None
        try:
            key, item = rt.admit(tick, message.key, message.value, self.settings.max_event_bytes)
            now = datetime.now(UTC)
            if self.event_clock and not isinstance(item, Tick):
                await self.tick_owed(message, item, now)
            await self._step(message, key, item, now)
        except EventDecodeError as exc:
            await self.reject(message, exc)
        except Exception as exc:  # noqa: BLE001 - one message must never stop the stream
            await self.reject(message, rt.failed(exc, partition, item), logging.ERROR)

    async def _step(self, message: Any, key: bytes, item: Event | Tick, now: datetime) -> None:
        """Step one loan; send its outputs and stage its row. Raises for the caller to contain."""
        rt = self.rt
        partition = message.partition
        self.rows.at(partition, message.topic)
        if self.checkpoints is not None:
            self.checkpoints.at(partition, message.topic)
        stored = self.rows.get(key)
        verdict = rt.judge(key, stored, partition, item, now)
        result = verdict.result
        if result.rejected and not isinstance(item, Tick):
            raise rt.refusal(result, item)
        if verdict.row is None:
            return
        outputs = outputs_of(result, self.settings)
        if rt.models is not None and (figures := rt.models.drain_metrics()):
            outputs += metrics_outputs(figures, self.settings)  # this step checkpointed
        for out in outputs:
            await self.send(out.topic, out.key, out.value)
        if verdict.row != stored:  # a tick that changed nothing costs no write
            self.rows[key] = verdict.row
        rt.stored(key, partition, verdict)

    async def tick_owed(self, message: Any, event: Event, now: datetime) -> None:
        """Event clock: before ``event``, the ticks its partition owes up to the event's day.

        As an offline replay does (`streams.backtest.replay.Replay`): each loan whose
        wake-up day came is ticked on that day, days in order, but never on a day
        the partition has already passed (then on the day after it), so a
        replay's outputs do not depend on how fast it runs. An event dated beyond
        the worker's clock (which the core will refuse) moves nothing.
        """
        rt = self.rt
        day = event.event_time.astimezone(rt.zone).date()
        if event.event_time - now > rt.engine.policy.max_lead:
            return
        partition = message.partition
        last = rt.stream_day.get(partition)
        if last is not None and day <= last:
            return
        floor = None if last is None else last + timedelta(days=1)
        index = rt.index(partition)
        while (found := index.pop_earliest(day)) is not None:
            wakeup, due = found
            on = wakeup if floor is None else max(wakeup, floor)
            if on > day:  # woken again today: its next tick belongs to a later event
                for loan_id in due:
                    index.set(loan_id, wakeup)
                break
            for loan_id in due:
                await self._tick(message, loan_id, on, now)
            floor = on + timedelta(days=1)
        rt.advance_day(partition, event)  # the partition's ticks are done up to this day

    async def _tick(self, message: Any, loan_id: str, on: date, now: datetime) -> None:
        """One inline tick, contained like a message: a failure costs that loan's tick."""
        tick = Tick(loan_id, on)
        self.rt.counts["ticks"] += 1
        try:
            await self._step(message, loan_id.encode(), tick, now)
        except Exception as exc:  # noqa: BLE001 - one loan's tick must never stop the stream
            error = self.rt.failed(exc, message.partition, tick)
            log.error(
                "tick failed partition=%d loan=%s reason=%s", message.partition, loan_id, error
            )

    # -- sending and storing ---------------------------------------------------

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Any = None,
        partition: int | None = None,
    ) -> None:
        """Hand a message to the producer; `flush` awaits its delivery."""
        if self.exactly_once:
            message = self._message
            future = await faust_seam.send_in_transaction(
                self.app, message.topic, message.partition, topic, key, value, partition, headers
            )
        else:
            future = await self.app.producer.send(topic, key, value, partition, None, headers)
        self._deliveries.append(future)

    async def _delivered(self) -> list[Any]:
        found, self._deliveries = self._deliveries, []
        return list(await asyncio.gather(*found)) if found else []

    async def flush(self) -> None:
        """Make the batch durable: outputs delivered, then rows stored and changelogged."""
        await self._delivered()
        sent: list[tuple[Any, Any]] = []
        for table, staged in ((self.loans, self.rows), (self.models, self.checkpoints)):
            if table is None or staged is None:
                continue
            changelog = table.changelog_topic.get_topic_name()
            for write in staged.drain():
                # The record before the store: a refused send (no open transaction,
                # as between Faust's last commit and the end of a stop) must leave no
                # row on disk that no record backs, since a clean stop makes the next
                # start trust these files (streams/local_state.py).
                if self.exactly_once:
                    future = await faust_seam.send_in_transaction(
                        self.app,
                        write.source,
                        write.partition,
                        changelog,
                        write.key,
                        write.value,
                        write.partition,
                    )
                else:
                    future = await self.app.producer.send(
                        changelog, write.key, write.value, write.partition, None, None
                    )
                sent.append((table, future))
                if write.value is None:
                    faust_seam.store_delete(table, write.partition, write.key)
                else:
                    faust_seam.store_put(table, write.partition, write.key, write.value)
        for table, future in sent:
            faust_seam.changelog_delivered(table, await future, self.exactly_once)

    async def forward(self, message: Any, home: int) -> None:
        """An event on another partition than its key's: to its key's, original bytes kept."""
        headers = list(message.headers or ())
        origin = f"{message.topic}/{message.partition}/{message.offset}".encode()
        headers.append((FORWARDED_FROM, origin))
        await self.send(message.topic, message.key, message.value, headers, home)
        self.rt.counts["forwarded"] = self.rt.counts.get("forwarded", 0) + 1
        if self.rt.counts["forwarded"] == 1:
            log.warning(
                "event on partition %d belongs on %d by its key (Kafka's default murmur2 "
                "partitioner): forwarded there; producers should use that partitioner "
                "(docs/events.md)",
                message.partition,
                home,
            )

    async def reject(
        self, message: Any, error: EventDecodeError, level: int = logging.WARNING
    ) -> None:
        """Dead-letter ``message``, in one log line (ERROR when a step raised)."""
        letter = dead_letter(
            message.value,
            message.key,
            Origin(message.topic, message.partition, message.offset),
            error,
            datetime.now(UTC),
        )
        await self.send(self.dlq_name, letter.key, letter.value, list(letter.headers))
        self.rt.counts["dead"] += 1
        log.log(
            level,
            "rejected topic=%s partition=%d offset=%d loan=%s reason=%s",
            message.topic,
            message.partition,
            message.offset,
            error.loan_id,
            error,
        )

    def _see_offset(self, message: Any) -> None:
        """Input offsets the agent never judged are logged, not silent (`OffsetWatch`)."""
        skipped = self.watch.see(message.tp, message.offset)
        if not skipped:
            return
        self.rt.counts["skipped_offsets"] = (
            self.rt.counts.get("skipped_offsets", 0) + skipped[1] - skipped[0]
        )
        log.warning(
            "offsets %d-%d of %s[%d] were never judged (on an input written with "
            "transactions, commit markers and aborted records leave such gaps too)",
            skipped[0],
            skipped[1] - 1,
            message.topic,
            message.partition,
        )

    # -- the clock and rebalances ----------------------------------------------

    def rebuild_indexes(self) -> None:
        """After start or a rebalance: rebuild the clock index from stored headers."""
        rt = self.rt
        rt.indexes.clear()
        rt.stream_day.clear()
        for key, value in self.loans.items():
            try:
                partition, wakeup = header_only(value)
                rt.index(partition).set(key.decode(), wakeup)
            except (ValueError, struct.error) as exc:  # a row no worker of ours wrote
                log.error("unreadable table row key=%r skipped by the clock: %s", key[:128], exc)
        rt.indexed = True
        self.heap.settle()  # the previous assignment's state is gone; the new one is loaded

    async def on_assigned(self) -> None:
        """A new assignment: forget in-memory state; Faust restores the tables next."""
        faust_seam.seek_before_resume(self.app)  # before this assignment's table recovery ends
        faust_seam.set_fetch_wait(self.app, self.settings.worker.fetch_max_wait_ms)
        self.watch.reset()
        self.rt.indexed = False  # rebuilt before the next batch or clock run
        self.rt.records.clear()
        if self.rt.models is not None:
            self.rt.models.forget()
        self.heap.settle()  # before the first events: the next settle follows the recovery

    async def clock(self) -> None:
        """The timer: rule-file watch, heap upkeep and, on the wall clock, the day's ticks."""
        if self.watcher is not None:
            self.watcher.check()
        if not self.rt.indexed:
            self.rebuild_indexes()
        elif self.heap.due():
            self.heap.settle()
        if self.event_clock:
            return  # owed ticks are judged inline, before the event of a later day
        mine = {
            tp.partition for tp in self.app.consumer.assignment() if tp.topic == self.events_name
        }
        today = datetime.now(self.rt.zone).date()
        day = today.isoformat().encode()  # every tick of this run carries the same day
        for partition in sorted(mine):
            while True:
                due = self.rt.index(partition).pop_due(today, self.tick_slice)
                for loan_id in due:
                    await self.send_tick(loan_id.encode(), day, partition)
                if len(due) < self.tick_slice or self.app.should_stop:
                    break
                await self.app.sleep(_TICK_PACE_S)  # the agent judges live events meanwhile

    async def send_tick(self, key: bytes, day: bytes, partition: int) -> None:
        """A wall-clock tick to the loan's partition; under exactly_once, outside any transaction.

        Faust would send it in the open transaction of the ticks partition's group,
        which is committed only together with offsets the agent consumed there: a
        tick sent after a partition's last event would never be committed, so the
        read_committed agent would never judge it and the loan, already taken out
        of the due index, would stop ageing. A tick needs no transaction: judging
        one twice changes nothing the first did not (the loan is already at that
        day), and the outputs it leads to are in the judging step's transaction.
        """
        if self.exactly_once:
            await self.app.producer.send(self.ticks_name, key, day, partition, None, None)
        else:
            await self.ticks.send(key=key, value=day, partition=partition)
