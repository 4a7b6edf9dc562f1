"""The Faust application: topics and agents, thin adapters around the pure core.

Today the agent is the stream's front door: every message on the events topic
is decoded against the event contract, and a message that fails goes to the
dead-letter topic with its original bytes and the reason, while the stream goes
on. The risk core plugs in where an event is accepted.
"""

from __future__ import annotations

import logging
import ssl
from datetime import UTC, datetime
from typing import Any

import faust

from config import Settings
from rules import EventDecodeError, decode_event
from streams.dlq import Origin, dead_letter

__all__ = ["create_app"]

log = logging.getLogger("loanwatch.worker")


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


def create_app(settings: Settings) -> faust.App:
    """Build the app and its agents from settings (no module-level globals)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=[
            f"kafka://{server.strip()}" for server in settings.kafka.bootstrap_servers.split(",")
        ],
        broker_credentials=broker_credentials(settings),
        broker_client_id=settings.kafka.client_id,
        store="rocksdb://",
        datadir=str(settings.data_dir),
        topic_partitions=settings.topics.partitions,
        topic_replication_factor=1,
        processing_guarantee="at_least_once",
        web_enabled=False,
        timezone=UTC,
    )
    raw = {
        "key_type": bytes,
        "value_type": bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    events_topic = app.topic(settings.topics.events, **raw)
    dlq_topic = app.topic(settings.topics.dlq, **raw)

    @app.agent(events_topic, name="judge")
    async def judge(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            try:
                decode_event(message.value or b"", max_bytes=settings.max_event_bytes)
            except EventDecodeError as exc:
                letter = dead_letter(
                    message.value,
                    message.key,
                    Origin(message.topic, message.partition, message.offset),
                    exc,
                    datetime.now(UTC),
                )
                await dlq_topic.send(
                    key=letter.key, value=letter.value, headers=list(letter.headers)
                )
                log.warning(
                    "rejected topic=%s partition=%d offset=%d reason=%s",
                    message.topic,
                    message.partition,
                    message.offset,
                    exc,
                )

    return app
