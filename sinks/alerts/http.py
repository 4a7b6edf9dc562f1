"""A small HTTP endpoint for acks and resolutions, served by `loanwatch alerts run`.

The link in every message (``{ack_url}/ack/{group_ref}``) opens a form (who you are,
and the token) that POSTs back; tools POST JSON. Requests become queued commands
(`sinks.alerts.commands`), so the endpoint never races the service over the state.

=========================  ===================================================
``GET  /alerts``           open groups and silences (JSON)
``GET  /ack/{ref}``        the form behind a message's link
``POST /ack/{ref}``        the form, or JSON ``{"by": "alice"}``
``POST /resolve/{ref}``    the form, or JSON ``{"by": "alice"}``
``POST /silences``         JSON ``{"by", "matchers": [...], "duration": "2h", "comment"}``
=========================  ===================================================

Who may call is `sinks.alerts.access`. The checks run in the order that keeps a hostile
request cheap and harmless: ``Host`` and cross-site marks, then the credential (headers
only), then the body (at most `MAX_BODY` bytes), then each field (`sinks.alerts.fields`).
The form page itself needs no credential: it shows nothing but its own ref and hands
out the CSRF token its POST must return. Every other answer is a 2xx, or a 4xx with
JSON ``{"ok": false, "error": "<field>: ..."}``; every response carries
`SECURITY_HEADERS`.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web
from redis.exceptions import RedisError

from sinks.alerts import fields
from sinks.alerts.access import (
    Access,
    csrf_token,
    csrf_valid,
    foreign_origin,
    loopback_host_header,
)
from sinks.alerts.commands import SILENCE_MAX_S, overview, silence_command, submit
from sinks.alerts.durations import parse_duration
from sinks.alerts.exceptions import AlertConfigError, AlertError, RequestRefused
from sinks.alerts.store import AlertStore

__all__ = ["MAX_BODY", "SECURITY_HEADERS", "AckEndpoint", "make_app", "serve_in_thread"]

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
"""Largest request body: a silence with every matcher at its longest fits ten times over."""
MAX_FORM_FIELDS = 10
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
"""No framing (clickjacking), no scripts or outside resources, forms post only here,
no ref leaking in a Referer, nothing cached on a shared machine."""
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
COOKIE = "lw_csrf"
_NONCE = re.compile(r"[0-9a-f]{32}")
_SAFE = frozenset({"GET", "HEAD"})
_PAGE = """<!doctype html><meta charset="utf-8"><title>{verb} {ref}</title>
<form method="post" action="/{path}/{ref}"><p>{verb} alert group <code>{ref}</code></p>
<label>Your name <input name="by" required maxlength="{max_name}"></label>{token}
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit">{verb}</button></form>"""
_KEY_INPUT = '<label>Token <input type="password" name="token" required></label>'

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
VIA = web.RequestKey("via", str)
"""How an admitted request proved itself: ``bearer``, ``form``, ``local`` or ``none``."""


def refused(status: int, error: str) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status)


class AckEndpoint:
    """The aiohttp application over one `AlertStore`; ``clock`` (seconds) dates CSRF tokens."""

    def __init__(
        self,
        store: AlertStore,
        access: Access,
        wait_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.access = access
        self.wait_s = wait_s
        self.clock = clock

    def app(self) -> web.Application:
        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            return await self.guard(request, handler)

        app = web.Application(client_max_size=MAX_BODY, middlewares=[guard])
        app.on_response_prepare.append(_secure)
        app.router.add_get("/alerts", self.list_alerts)
        for op, verb in (("ack", "Acknowledge"), ("resolve", "Resolve")):
            app.router.add_get(f"/{op}/{{ref}}", self.form(op, verb), name=f"form-{op}")
            app.router.add_post(f"/{op}/{{ref}}", self.action(op), name=f"act-{op}")
        app.router.add_post("/silences", self.silence)
        return app

    # -- admission: before any handler, from the request line and headers alone ------------

    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Admit the request or answer it with a JSON 4xx; no input may cause a 5xx."""
        try:
            self.admit(request)
            return await handler(request)
        except RequestRefused as exc:
            return refused(exc.status, str(exc))
        except web.HTTPException as exc:  # aiohttp's own: 404, 405, 413
            if exc.status < 400:
                raise
            response = refused(exc.status, f"{request.path[:100]}: {exc.reason}")
            if "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
            return response
        except RedisError as exc:
            log.warning("alerts http: the alert store is unavailable: %s", exc)
            return refused(503, "store: the alert store is unavailable; try again shortly")

    def admit(self, request: web.Request) -> None:
        """Rebound host, cross-site page, credential: the checks that need no body."""
        route = request.match_info.route.name or ""
        form_page = route.startswith("form-") and request.method in _SAFE
        if self.access.local_only and not loopback_host_header(request.host):
            raise RequestRefused(403, "Host: this local-only endpoint answers loopback only")
        if not form_page:  # a chat link is a cross-site navigation to the form page
            foreign = foreign_origin(
                request.headers.get("Origin"),
                request.headers.get("Sec-Fetch-Site"),
                request.scheme,
                request.host,
                self.access.origins,
            )
            if foreign:
                raise RequestRefused(403, f"{foreign}: requests from another site are refused")
        request[VIA] = "none" if form_page else self.credential(request, route)

    def credential(self, request: web.Request, route: str) -> str:
        """``bearer``, ``form`` (checked with its body), or ``local``; else 401."""
        from_form = route.startswith("act-") and request.content_type == FORM
        if self.access.local_only:
            return "form" if from_form else "local"
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _, given = header.strip().partition(" ")
            if scheme.lower() == "bearer" and self.access.token_ok(given.strip()):
                return "bearer"
            raise RequestRefused(401, "Authorization: wrong or malformed bearer token")
        if from_form and request.method == "POST":
            return "form"
        raise RequestRefused(401, "Authorization: needs Authorization: Bearer <token>")

    # -- handlers --------------------------------------------------------------------------

    async def list_alerts(self, request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        return web.json_response(await loop.run_in_executor(None, overview, self.store))

    def form(self, op: str, verb: str) -> Handler:
        async def show(request: web.Request) -> web.StreamResponse:
            ref = fields.ref(request.match_info["ref"])
            nonce = request.cookies.get(COOKIE, "")
            if not _NONCE.fullmatch(nonce):
                nonce = secrets.token_hex(16)
            page = _PAGE.format(
                verb=verb,
                ref=html.escape(ref),
                path=op,
                max_name=fields.MAX_NAME,
                token=_KEY_INPUT if self.access.token else "",
                csrf=csrf_token(self.access.key, nonce, f"/{op}/{ref}", self.clock()),
            )
            response = web.Response(text=page, content_type="text/html")
            response.set_cookie(
                COOKIE, nonce, max_age=86400, path="/", httponly=True, samesite="Strict",
                secure=request.secure,
            )  # fmt: skip
            return response

        return show

    def action(self, op: str) -> Handler:
        async def act(request: web.Request) -> web.Response:
            ref = fields.ref(request.match_info["ref"])
            body = await self.body(request, form_ok=True)
            if request[VIA] == "form":
                self.check_form(request, body, f"/{op}/{ref}")
            return await self.queued(op, fields.person(body.get("by")), ref=ref)

        return act

    async def silence(self, request: web.Request) -> web.Response:
        body = await self.body(request, form_ok=False)
        by = fields.person(body.get("by"))
        matchers = fields.matchers(body.get("matchers"))
        try:
            duration_s = parse_duration(body.get("duration", "1h"), "duration", SILENCE_MAX_S)
        except AlertConfigError as exc:
            raise RequestRefused(400, str(exc)) from None
        comment = fields.text(body.get("comment"), "comment", fields.MAX_COMMENT, required=False)
        try:
            command = silence_command(matchers, duration_s, comment)
        except AlertError as exc:
            raise RequestRefused(400, str(exc)) from None
        response = await self.queued("silence", by, **command)
        return response if response.status != 200 else web.json_response({"ok": True, **command})

    # -- the body, once admitted -----------------------------------------------------------

    async def body(self, request: web.Request, *, form_ok: bool) -> dict[str, Any]:
        """The JSON object or form fields of an admitted request (at most `MAX_BODY` bytes)."""
        kind = request.content_type
        if kind not in (JSON, FORM) or (kind == FORM and not form_ok):
            wanted = "application/json or a form" if form_ok else "application/json"
            raise RequestRefused(415, f"Content-Type: expected {wanted}")
        raw = await request.read()  # 413 past client_max_size
        if kind == JSON:
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise RequestRefused(400, "body: not valid JSON") from None
            if not isinstance(data, dict):
                raise RequestRefused(400, "body: expected a JSON object")
            return data
        try:
            pairs = parse_qsl(
                raw.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
            )
        except ValueError:  # not UTF-8 (also once percent-decoded), too many fields
            raise RequestRefused(
                400, f"body: not a UTF-8 form of at most {MAX_FORM_FIELDS} fields"
            ) from None
        out: dict[str, Any] = {}
        for name, value in pairs:
            out.setdefault(name, value)
        return out

    def check_form(self, request: web.Request, body: dict[str, Any], path: str) -> None:
        """A form POST: our own page's CSRF token for this browser, and the token typed in."""
        nonce = request.cookies.get(COOKIE, "")
        given = body.get("csrf", "")
        if not _NONCE.fullmatch(nonce) or not csrf_valid(
            self.access.key, nonce, path, given, self.clock()
        ):
            raise RequestRefused(
                403, "csrf: this form expired or was not opened here; open the link again"
            )
        if self.access.token is not None and not self.access.token_ok(body.get("token", "")):
            raise RequestRefused(401, "token: wrong token")

    async def queued(self, op: str, by: str, **command: Any) -> web.Response:
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(
            None, lambda: submit(self.store, op, by, wait_s=self.wait_s, **command)
        )
        status = 200 if answer.get("ok") else (202 if answer.get("queued") else 404)
        return web.json_response(answer, status=status)


async def _secure(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)


def make_app(store: AlertStore, access: Access, wait_s: float = 10.0) -> web.Application:
    """The endpoint's application; ``access`` from `sinks.alerts.access.endpoint_access`."""
    return AckEndpoint(store, access, wait_s).app()


def serve_in_thread(app: web.Application, host: str, port: int) -> Callable[[], None]:
    """Serve ``app`` on its own event loop in a daemon thread; returns the stop function."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner = web.AppRunner(app)
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, host, port).start())
        except OSError as exc:
            failure.append(exc)
            ready.set()
            return
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="alerts-http", daemon=True)
    thread.start()
    ready.wait(10)
    if failure:
        raise AlertError(f"cannot serve the ack endpoint on {host}:{port}: {failure[0]}")

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    return stop
