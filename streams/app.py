"""The Faust application: topics, the loan table, the judging agent and the clock.

Thin adapters around the pure core (`rules.core.Engine`):

- ``judge`` consumes the events topic and the worker's own ticks topic. An
  event that fails the contract, is keyed by anything but its ``loan_id``, or
  that the core rejects (dated beyond the worker's clock, say) goes to the
  dead-letter topic with its original bytes and the reason; so does any message
  whose step raised (the exception's class in the reason, nothing of the step
  stored, a counter and one log line); the stream goes on. Otherwise the
  loan's record is read from the table, stepped, written back, and the
  step's warnings, transitions and actions are sent, keyed by loan_id. A step
  that checkpointed its partition's models also sends their metrics
  (`streams.model_metrics`) to the model metrics topic.
- ``clock`` (a timer) finds loans whose next wake-up day has come on this
  worker's partitions (an index, not a scan) and sends each a tick to the
  ticks topic, on the loan's own partition, so the tick is judged like an
  event by whichever worker owns that partition. On the wall clock the ticks
  go out in paced slices (`WorkerSettings.clock_ticks_per_s`), so a day's
  burst of wake-ups does not hold live events behind it.
- The loan table lives in RocksDB with its changelog in Kafka: a restarted
  or moved worker recovers it. Each value carries its partition and wake-up
  day in a small header, so the clock index is rebuilt from headers alone.
- The rule pack is swapped live from the control topic or a watched file.
"""

from __future__ import annotations

import logging
import ssl
import struct
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import faust

from config import Settings
from models.hub import HubConfig
from rules import EventDecodeError
from rules.core import Engine
from rules.pack import default_pack, load_pack
from rules.policy import load_policy
from rules.workflows import load_workflow_policy
from streams.continuity import OffsetWatch
from streams.dlq import Origin, dead_letter
from streams.heap import HeapKeeper
from streams.judging import Runtime
from streams.outputs import metrics_outputs, outputs_of
from streams.producer_queue import drain_fully
from streams.recovery_order import seek_before_resume
from streams.rules_feed import FileWatcher, TopicFeed
from streams.scoring import PartitionModels
from streams.stored import header_only
from streams.topics import ticks_topic

__all__ = ["Runtime", "build_engine", "create_app"]

log = logging.getLogger("loanwatch.worker")

_TICK_PACE_S = 0.1
"""Seconds between slices of wall-clock ticks (`WorkerSettings.clock_ticks_per_s`)."""

_RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}


def broker_credentials(settings: Settings) -> Any:
    """Faust's credentials object for the configured TLS and SASL settings."""
    kafka = settings.kafka
    context: ssl.SSLContext | None = None
    if kafka.uses_tls():
        context = ssl.create_default_context(
            cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None
        )
        context.check_hostname = kafka.ssl_check_hostname
        if kafka.ssl_certfile:
            context.load_cert_chain(
                str(kafka.ssl_certfile),
                str(kafka.ssl_keyfile) if kafka.ssl_keyfile else None,
                kafka.ssl_key_password.get_secret_value() if kafka.ssl_key_password else None,
            )
    if kafka.uses_sasl():
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value() if kafka.sasl_password else None,
            mechanism=kafka.sasl_mechanism or "PLAIN",
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def build_engine(settings: Settings) -> Engine:
    """The engine from the configured (or built-in) pack and policies."""
    worker = settings.worker
    pack = load_pack(worker.rules_file) if worker.rules_file else default_pack()
    return Engine(
        pack, load_policy(worker.policy_file), load_workflow_policy(worker.workflows_file)
    )


def create_app(settings: Settings, runtime: Runtime | None = None) -> faust.App:
    """Build the app, its table, agents and timers from settings."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    worker = settings.worker
    rt = runtime or Runtime(build_engine(settings), ZoneInfo(settings.time_zone))
    rt.cache(worker.cached_loans)
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{s.strip()}" for s in settings.kafka.bootstrap_servers.split(",")],
        broker_credentials=broker_credentials(settings),
        broker_client_id=settings.kafka.client_id,
        store="rocksdb://",
        datadir=str(settings.data_dir),
        topic_partitions=settings.topics.partitions,
        topic_replication_factor=1,
        processing_guarantee=worker.processing_guarantee,
        web_enabled=worker.web_port is not None,
        web_port=worker.web_port or 6066,
        timezone=UTC,
        # Everything we store or send is bytes we encoded ourselves (orjson).
        key_serializer="raw",
        value_serializer="raw",
        producer_max_request_size=max(1 << 20, settings.max_event_bytes + (64 << 10)),
        producer_linger_ms=worker.linger_ms,
    )
    app.runtime = rt  # type: ignore[attr-defined]
    drain_fully(app.producer.buffer)  # a commit waits for the table's queued changelog records
    exactly_once = worker.processing_guarantee == "exactly_once"
    event_clock = worker.clock == "event"
    ticks_name = ticks_topic(settings)
    source = app.topic(settings.topics.events, ticks_name, **_RAW)
    ticks = app.topic(ticks_name, partitions=settings.topics.partitions, internal=True, **_RAW)
    dlq = app.topic(settings.topics.dlq, **_RAW)
    sinks = {
        name: app.topic(name, **_RAW)
        for name in (
            settings.topics.warnings,
            settings.topics.transitions,
            settings.topics.actions,
            settings.topics.model_metrics,
        )
    }

    def table(name: str) -> Any:
        """A bytes-to-bytes table co-partitioned with the events (RocksDB + changelog)."""
        return app.Table(
            name,
            default=None,
            partitions=settings.topics.partitions,
            key_type=bytes,
            value_type=bytes,
        )

    loans = table("loans")
    if worker.models:
        hubs = table("models")
        rt.models = PartitionModels(
            hubs,
            HubConfig(
                pd_candidate=worker.pd_model,
                horizon_days=worker.model_horizon_days,
                bad_dpd=worker.model_bad_dpd,
            ),
            worker.model_checkpoint_steps,
            worker.model_warmup_labels,
            chunk_bytes=worker.model_checkpoint_chunk_bytes,
        )

    async def send(
        message: Any,
        topic: Any,
        key: bytes | None,
        value: bytes,
        headers: Any = None,
        partition: int | None = None,
    ) -> None:
        """Send an output; under exactly_once, inside the source partition's transaction.

        Faust picks a transaction by the *destination* partition of a topic the app
        consumes; our outputs are topics it does not consume, so Faust would send them
        outside any transaction and a crash would repeat them to read_committed readers.
        """
        if not exactly_once:
            await topic.send(key=key, value=value, headers=headers, partition=partition)
            return
        group = app.assignor.group_for_topic(message.topic)
        await app.consumer.transactions.producer.send(
            topic.get_topic_name(),
            key,
            value,
            partition,
            None,
            headers,
            transactional_id=f"{app.conf.id}-{group}-{message.partition}",
        )

    async def store(message: Any, key: bytes, row: bytes) -> None:
        """Keep a loan's row; under exactly_once, its changelog record joins the step's transaction.

        A Faust table write queues its changelog record, published a moment later,
        and under exactly_once a commit does not flush that queue (only the
        at-least-once commit does): the record of an event whose offset and outputs
        a commit just took could land in the next transaction and die with it when
        the worker is killed, and the restarted worker would restore the loan as if
        that event had never been judged (read from Faust's code; the SIGKILL
        failure of tests/integration/test_worker_exactly_once.py this was first
        taken for had another cause: see streams/recovery_order.py). So under exactly_once the
        row goes to the store directly and its record (the raw key and value Faust
        would send, to the event's partition) is sent and awaited in the event's
        transaction, atomic with its outputs and offset.

        Not under at-least-once: there the outputs must reach Kafka before the
        record (see the caller). Sent at once, the record can overtake outputs still
        waiting behind their partition's previous request, and a kill between the
        two loses those outputs for good: tried, and the SIGKILL recovery test
        (tests/integration/test_worker_recovery.py) missed warnings in 2 runs of 2.
        Faust's queue publishes the record after them.
        """
        if not exactly_once:
            loans[key] = row
            return
        # The record first: a refused send (aiokafka refuses one when no transaction
        # is open, as between Faust's last commit and the end of a stop) must leave
        # no row on disk that no record backs, since a clean stop makes the next
        # start trust these files (streams/local_state.py).
        await send(message, loans.changelog_topic, key, row, partition=message.partition)
        loans.data[key] = row  # the store alone: Faust's own record would be queued

    async def reject(message: Any, error: EventDecodeError, level: int = logging.WARNING) -> None:
        """Dead-letter ``message``, in one log line (ERROR when a step raised)."""
        letter = dead_letter(
            message.value,
            message.key,
            Origin(message.topic, message.partition, message.offset),
            error,
            datetime.now(UTC),
        )
        await send(message, dlq, letter.key, letter.value, list(letter.headers))
        rt.counts["dead"] += 1
        log.log(
            level,
            "rejected topic=%s partition=%d offset=%d loan=%s reason=%s",
            message.topic,
            message.partition,
            message.offset,
            error.loan_id,
            error,
        )

    # Input offsets the agent never judged are logged, not silent. A partition's
    # first record after an assignment is checked against the offset the restore
    # sought to, which Faust's perform_seek leaves in the consumer's committed map.
    watch = OffsetWatch(lambda tp: app.consumer._committed_offset.get(tp))  # type: ignore[attr-defined]

    @app.agent(source, name="judge")
    async def judge(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            partition = message.partition
            if skipped := watch.see(message.tp, message.offset):
                rt.counts["skipped_offsets"] = (
                    rt.counts.get("skipped_offsets", 0) + skipped[1] - skipped[0]
                )
                log.warning(
                    "offsets %d-%d of %s[%d] were never judged (on an input written "
                    "with transactions, commit markers and aborted records leave such "
                    "gaps too)",
                    skipped[0],
                    skipped[1] - 1,
                    message.topic,
                    partition,
                )
            tick = message.topic == ticks_name
            item: Any = None
            try:
                key, item = rt.admit(tick, message.key, message.value, settings.max_event_bytes)
                stored = loans.get(key)
                verdict = rt.judge(key, stored, partition, item, datetime.now(UTC))
                result = verdict.result
                if result.rejected and not tick:
                    raise rt.refusal(result, item)
                if verdict.row is None:
                    continue
                outputs = outputs_of(result, settings)
                if rt.models is not None and (figures := rt.models.drain_metrics()):
                    outputs += metrics_outputs(figures, settings)  # this step checkpointed
            except EventDecodeError as exc:
                await reject(message, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - one message must never stop the stream
                await reject(message, rt.failed(exc, partition, item), logging.ERROR)
                continue
            # Outputs before the table row: if the process dies between the two, the
            # event is judged again on restart and its outputs repeat with the same ids
            # (sinks collapse them); the other order could lose them for good, since a
            # replayed event the table already holds is skipped as a duplicate.
            for out in outputs:
                await send(message, sinks[out.topic], out.key, out.value)
            if verdict.row != stored:  # a tick that changed nothing costs no write
                await store(message, key, verdict.row)
            rt.stored(key, partition, verdict)
            if event_clock and not tick:
                rt.advance_day(partition, item)

    def rebuild_indexes() -> None:
        """After start or a rebalance: rebuild the clock index from stored headers."""
        rt.indexes.clear()
        for key, value in loans.items():
            try:
                partition, wakeup = header_only(value)
                rt.index(partition).set(key.decode(), wakeup)
            except (ValueError, struct.error) as exc:  # a row no worker of ours wrote
                log.error("unreadable table row key=%r skipped by the clock: %s", key[:128], exc)
        rt.indexed = True
        heap.settle()  # the previous assignment's state is gone; the new one is loaded

    heap = HeapKeeper(worker.heap_settle_interval_s)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        seek_before_resume(app)  # before this assignment's table recovery ends
        watch.reset()
        rt.indexed = False  # rebuilt on the next clock run, after table recovery
        rt.records.clear()
        if rt.models is not None:
            rt.models.forget()
        heap.settle()  # before the first events: the next settle follows the recovery

    watcher = FileWatcher(worker.rules_file, rt.install) if worker.rules_file else None

    # Ticks per slice, a slice every _TICK_PACE_S (WorkerSettings.clock_ticks_per_s);
    # the event clock is not paced, so a replay's outputs do not depend on its speed.
    tick_slice = (
        None if worker.clock == "event" else max(1, round(worker.clock_ticks_per_s * _TICK_PACE_S))
    )

    async def send_tick(key: bytes, day: bytes, partition: int) -> None:
        """A tick to the loan's partition; under exactly_once, outside any transaction.

        Faust would send it in the open transaction of the ticks partition's group,
        which is committed only together with offsets the agent consumed there: a
        tick sent after a partition's last event would never be committed, so the
        read_committed agent would never judge it and the loan, already taken out
        of the due index, would stop ageing. A tick needs no transaction: judging
        one twice changes nothing the first did not (the loan is already at that
        day), and the outputs it leads to are in the judging step's transaction.
        """
        if exactly_once:
            await app.producer.send(ticks_name, key, day, partition, None, None)
        else:
            await ticks.send(key=key, value=day, partition=partition)

    @app.timer(interval=worker.clock_interval_s, name="clock")  # type: ignore[untyped-decorator]
    async def clock() -> None:
        if watcher is not None:
            watcher.check()
        if not rt.indexed:
            rebuild_indexes()
        elif heap.due():
            heap.settle()
        mine = {
            tp.partition for tp in app.consumer.assignment() if tp.topic == settings.topics.events
        }
        wall_day = datetime.now(rt.zone).date()
        for partition in sorted(mine):
            today = rt.stream_day.get(partition) if worker.clock == "event" else wall_day
            if today is None:
                continue
            day = today.isoformat().encode()  # every tick of this run carries the same day
            while True:
                due = rt.index(partition).pop_due(today, tick_slice)
                for loan_id in due:
                    await send_tick(loan_id.encode(), day, partition)
                if tick_slice is None or len(due) < tick_slice or app.should_stop:
                    break
                await app.sleep(_TICK_PACE_S)  # the agent judges live events meanwhile

    feed = TopicFeed(settings, rt.install)

    @app.task  # type: ignore[untyped-decorator]
    async def start_feed() -> None:
        feed.start()

    return app
