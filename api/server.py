"""Serving the API with uvicorn: in the foreground (`loanwatch api`) or in a thread
(tests, the benchmark), with the audit trail started before and flushed after."""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass

import uvicorn

from api.app import create_app
from api.audit import AuditTrail, clickhouse_insert
from api.backends import Backends
from api.exceptions import ApiError

__all__ = ["GC_THRESHOLDS", "Running", "build", "quiet_gc", "serve_in_thread"]


def build(backends: Backends) -> tuple[uvicorn.Server, AuditTrail | None, object]:
    """The server for ``backends`` and its audit trail (None when auditing is off)."""
    settings = backends.settings
    audit = None
    audit_client = None
    if settings.api.audit:
        from clickhouse_driver import Client

        audit_client = Client(**settings.clickhouse.driver_kwargs(database=backends.database))
        audit = AuditTrail(
            clickhouse_insert(audit_client, backends.database),
            flush_s=settings.api.audit_flush_s,
            limit=settings.api.audit_buffer,
        )
    app = create_app(backends, audit)
    if audit is not None:
        audit.on_drop = app.state.metrics.audit_dropped.inc
    config = uvicorn.Config(
        app,
        host=settings.api.host,
        port=settings.api.port,
        http="httptools",  # C parser and libuv loop: dependencies, so no silent fallback
        loop="uvloop",
        log_level="warning",
        access_log=False,  # the audit table is the access log
        server_header=False,
    )
    return uvicorn.Server(config), audit, audit_client


GC_THRESHOLDS = (50_000, 20, 100)
"""Allocations before a young collection (Python's default: 700), then the usual ratios."""


def quiet_gc() -> None:
    """Keep Python's cyclic collector off the requests' tail; call once, before serving.

    A full collection walked every object the imports made (FastAPI, pydantic, the
    settings, confluent-kafka's and redis-py's modules): the 32 requests in flight
    waited it out, and the card's p99 was 56-104 ms with a p50 of 9 ms. Freezing
    what exists at start moves it out of the collector's sight for good (it lives as
    long as the process anyway), and a larger young generation makes the passes over
    what requests leave behind rarer: p99 15-18 ms and a fifth less CPU per card
    (docs/performance.md, "The API"). The process's own long-lived objects are all
    made before this; what requests make is still collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@dataclass
class Running:
    """A server in a thread; `stop` ends it, flushes the audit trail and closes clients."""

    server: uvicorn.Server
    thread: threading.Thread
    audit: AuditTrail | None
    audit_client: object
    backends: Backends

    @property
    def url(self) -> str:
        config = self.server.config
        return f"http://{config.host}:{config.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        finish(self.audit, self.audit_client, self.backends)


def finish(audit: AuditTrail | None, audit_client: object, backends: Backends) -> None:
    if audit is not None:
        audit.stop()
    if audit_client is not None:
        audit_client.disconnect()  # type: ignore[attr-defined]
    backends.close()


def serve_in_thread(backends: Backends, timeout_s: float = 10.0) -> Running:
    server, audit, audit_client = build(backends)
    if audit is not None:
        audit.start()
    thread = threading.Thread(target=server.run, name="api", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            finish(audit, audit_client, backends)
            raise ApiError(f"the API did not start on {server.config.host}:{server.config.port}")
        time.sleep(0.02)
    return Running(server, thread, audit, audit_client, backends)
