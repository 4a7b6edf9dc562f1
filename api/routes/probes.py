"""``/healthz`` (the process answers), ``/readyz`` (each store answers) and ``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.routes.common import backends_of
from config.outage import short_reason

__all__ = ["router"]

router = APIRouter(tags=["probes"])

PROM_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Each dependency answers")
def readyz(request: Request) -> JSONResponse:
    """200 when Redis, ClickHouse and Kafka all answer, else 503; each with its state."""
    backends = backends_of(request)
    checks: dict[str, Any] = {
        "redis": lambda: backends.redis.ping(),
        "clickhouse": lambda: _clickhouse(backends),
        "kafka": lambda: backends.producer.list_topics(backends.events_topic, timeout=2.0),
    }
    states: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
            states[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure is this dependency's state
            states[name] = f"unavailable: {short_reason(exc)}"
    ready = all(state == "ok" for state in states.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "dependencies": states},
        status_code=200 if ready else 503,
    )


def _clickhouse(backends: Any) -> None:
    with backends.clickhouse.client() as client:
        client.execute("SELECT 1")


@router.get("/metrics", summary="Prometheus figures", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.text(), media_type=PROM_TEXT)
