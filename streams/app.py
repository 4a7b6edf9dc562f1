"""The Faust application: topics, tables, the judging agent and the clock timer.

What the worker does lives in `streams.worker.Worker`; this module only wires
it to Faust:

- ``judge`` (an agent) consumes the events topic and the worker's own ticks
  topic in batches (`WorkerSettings.batch_max` messages, or what came within
  `WorkerSettings.batch_within_s`) and hands each to `Worker.judge_batch`,
  which makes the batch's outputs and rows durable before returning it; Faust
  acks the batch's offsets after that.
- ``clock`` (a timer) runs `Worker.clock`: the rule-file watch, heap upkeep
  and, on the wall clock, a tick for each loan whose wake-up day has come,
  sent to the ticks topic on the loan's own partition (the event clock judges
  owed ticks inline instead).
- The ``loans`` table (and ``models``, the partitions' model checkpoints) lives
  in RocksDB with its changelog in Kafka: a restarted or moved worker recovers
  it. Each loan row carries its partition and wake-up day in a small header,
  so the clock index is rebuilt from headers alone.
- The rule pack is swapped live from the control topic or a watched file.
- A broker that goes away under the running worker is reported in one line
  (`streams.kafka_watch`), not in the clients' own lines.

Only the topics Faust itself reads or writes are declared here: the events and
ticks the agent consumes, and the ticks topic the wall clock sends to. The
outputs (warnings, transitions, actions, model metrics) and the dead letters
are sent by topic name through the producer (`Worker.send`, or
`streams.faust_seam.send_in_transaction` under exactly_once). Faust would not
create them even if they were declared (it creates only the internal topics it
consumes and its tables' changelogs): `loanwatch worker` creates every topic
before the app starts (`streams.topics.ensure_topics`, with the dead letters'
retention).
"""

from __future__ import annotations

import logging
import ssl
from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

import faust

from config import Settings
from models.hub import HubConfig
from rules.core import Engine
from rules.pack import default_pack, load_pack
from rules.policy import load_policy
from rules.workflows import load_workflow_policy
from streams.faust_seam import take_batches
from streams.judging import Runtime
from streams.kafka_watch import KafkaWatch
from streams.rules_feed import TopicFeed
from streams.scoring import PartitionModels
from streams.topics import ticks_topic
from streams.worker import Worker

__all__ = ["Runtime", "build_engine", "create_app"]

log = logging.getLogger("loanwatch.worker")

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
    ticks_name = ticks_topic(settings)
    source = app.topic(settings.topics.events, ticks_name, **_RAW)
    ticks = app.topic(ticks_name, partitions=settings.topics.partitions, internal=True, **_RAW)

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
    hubs = table("models") if worker.models else None
    judge_ = Worker(app, settings, rt, loans, hubs, ticks)
    if judge_.checkpoints is not None:
        rt.models = PartitionModels(
            judge_.checkpoints,
            HubConfig(
                pd_candidate=worker.pd_model,
                horizon_days=worker.model_horizon_days,
                bad_dpd=worker.model_bad_dpd,
            ),
            worker.model_checkpoint_steps,
            worker.model_warmup_labels,
            chunk_bytes=worker.model_checkpoint_chunk_bytes,
        )
    app.worker_ = judge_  # type: ignore[attr-defined]

    @app.agent(source, name="judge")
    async def judge(stream: Any) -> None:  # a faust.Stream
        async for batch in take_batches(stream, worker.batch_max, worker.batch_within_s):
            await judge_.judge_batch(batch)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        await judge_.on_assigned()

    @app.timer(interval=worker.clock_interval_s, name="clock")  # type: ignore[untyped-decorator]
    async def clock() -> None:
        await judge_.clock()

    watch = KafkaWatch.of(settings)
    feed = TopicFeed(settings, rt.install, watch)

    @app.task  # type: ignore[untyped-decorator]
    async def start_feed() -> None:
        watch.start()
        feed.start()

    return app
