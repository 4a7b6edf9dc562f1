"""The FastAPI application: routers, problem answers, the audit and metrics middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api import problems
from api.audit import AuditTrail
from api.backends import Backends
from api.metrics import ApiMetrics
from api.model_gauges import ModelGauges
from api.observe import Observe
from api.openapi import with_problems
from api.pipeline_gauges import PipelineGauges
from api.routes import actions, actions_list, alerts, cards, probes, warnings, webhooks
from api.view_gauges import ViewGauges

__all__ = ["TITLE", "create_app"]

TITLE = "Loanwatch API"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Close the asyncio Redis client on the loop that used it."""
    yield
    backends: Backends | None = app.state.backends
    if backends is not None:
        await backends.aredis.aclose()


def create_app(backends: Backends | None, audit: AuditTrail | None = None) -> FastAPI:
    """The app over ``backends`` (None: only to render the OpenAPI document).

    ``audit`` receives one row per request; the caller starts and stops it.
    """
    app = FastAPI(
        lifespan=_lifespan,
        title=TITLE,
        version="1",
        description=(
            "Risk for CRM, ERP and collection systems: risk cards and top risk from Redis, "
            "warnings from ClickHouse, action outcomes as events to Kafka, alert acks. "
            "Every request is audited; errors are application/problem+json. See docs/api.md."
        ),
    )
    app.state.backends = backends
    app.state.metrics = metrics = ApiMetrics()
    if backends is not None:  # what the worker and the sinks publish, read where they put it
        metrics.registry.register(ModelGauges(backends.redis, backends.prefix))
        metrics.registry.register(ViewGauges(backends.redis, backends.prefix))
        metrics.registry.register(PipelineGauges.of(backends.settings))
    problems.install(app)
    for module in (cards, warnings, actions_list, actions, alerts, webhooks, probes):
        app.include_router(module.router)
    app.add_middleware(Observe, audit=audit, metrics=metrics)
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_problems(plain())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
