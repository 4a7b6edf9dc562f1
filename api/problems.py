"""Every error answer as ``application/problem+json`` (RFC 9457), naming field and reason.

FastAPI's own answers (a 422 list of validation errors, ``{"detail": ...}`` for a 404)
are replaced here so a client parses one shape: ``type``, ``title``, ``status``,
``detail`` and, for bad input, ``errors``: ``[{"field": "query.n", "reason": ...}]``.
Bad input is a 400: the request is malformed, not merely unprocessable.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from api.exceptions import Problem
from config.outage import clickhouse_errors, redis_errors, short_reason

__all__ = ["PROBLEM", "install", "problem_response"]

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"

REASON_KEY = "audit_reason"
"""``request.state`` attribute the audit row reads its reason from."""


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The problem document; also leaves ``detail`` on the request for the audit row."""
    setattr(request.state, REASON_KEY, detail)
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors:
        body["errors"] = errors
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)  # noqa: S101 - registered for Problem only
    errors = [{"field": exc.field, "reason": exc.reason}] if exc.field else None
    headers = dict(exc.headers)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="loanwatch"'
    return problem_response(request, exc.status, exc.title, str(exc), errors, headers)


async def _on_invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it only
    errors = [{"field": _field(e["loc"]), "reason": str(e["msg"])} for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return problem_response(request, 400, "Bad request", detail, errors)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for it only
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
    detail = f"{request.url.path[:200]}: {exc.detail}"
    return problem_response(request, exc.status_code, title, detail, headers=exc.headers)


def _unavailable(store: str) -> Any:
    async def handler(request: Request, exc: Exception) -> Response:
        log.warning("api: %s unavailable for %s: %s", store, request.url.path, short_reason(exc))
        detail = f"{store} is unavailable ({short_reason(exc)}); try again shortly"
        return problem_response(request, 503, "Service unavailable", detail)

    return handler


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``: ours, FastAPI's own, and a store that does not
    answer (a 503 naming it, logged, instead of a bare 500)."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_invalid)
    app.add_exception_handler(HTTPException, _on_http)
    for store, errors in (("Redis", redis_errors()), ("ClickHouse", clickhouse_errors())):
        for error in errors:
            if issubclass(error, Exception):
                app.add_exception_handler(error, _unavailable(store))
