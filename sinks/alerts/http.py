"""A small HTTP endpoint for acks and resolutions, served by `loanwatch alerts run`.

The link in every message (``{ack_url}/ack/{group_ref}``) opens a one-field form (who
you are) that POSTs back; tools POST JSON. Requests become queued commands
(`sinks.alerts.commands`), so the endpoint never races the service over the state.

=========================  ===================================================
``GET  /alerts``           open groups and silences (JSON)
``GET  /ack/{ref}``        the form behind a message's link
``POST /ack/{ref}``        form or JSON ``{"by": "alice"}``
``POST /resolve/{ref}``    form or JSON ``{"by": "alice"}``
``POST /silences``         JSON ``{"by", "matchers": [...], "duration": "2h", "comment"}``
=========================  ===================================================

When ``settings.alerts.http_token`` is set, POSTs need ``Authorization: Bearer <token>``
(or a ``token`` form field).
"""

from __future__ import annotations

import asyncio
import hmac
import html
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web

from sinks.alerts.commands import overview, silence_command, submit
from sinks.alerts.exceptions import AlertError
from sinks.alerts.routing import parse_duration
from sinks.alerts.store import AlertStore

__all__ = ["make_app", "serve_in_thread"]

_FORM = """<!doctype html><meta charset="utf-8"><title>{verb} {ref}</title>
<form method="post" action="/{path}/{ref}"><p>{verb} alert group <code>{ref}</code></p>
<label>Your name <input name="by" required></label>{token}
<button type="submit">{verb}</button></form>"""


def make_app(store: AlertStore, token: str | None = None, wait_s: float = 10.0) -> web.Application:
    async def body_of(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data = await request.json()
            return dict(data) if isinstance(data, dict) else {}
        return dict(await request.post())

    def allowed(request: web.Request, body: dict[str, Any]) -> bool:
        if not token:
            return True
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        given = given or str(body.get("token", ""))
        return hmac.compare_digest(given.encode(), token.encode())

    async def queued(op: str, by: str, **fields: Any) -> web.Response:
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(
            None, lambda: submit(store, op, by, wait_s=wait_s, **fields)
        )
        status = 200 if answer.get("ok") else (202 if answer.get("queued") else 404)
        return web.json_response(answer, status=status)

    async def list_alerts(request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        return web.json_response(await loop.run_in_executor(None, overview, store))

    def form(verb: str, path: str) -> Callable[[web.Request], Any]:
        async def show(request: web.Request) -> web.Response:
            ref = html.escape(request.match_info["ref"])
            field = '<input type="password" name="token" placeholder="token">' if token else ""
            page = _FORM.format(verb=verb, ref=ref, path=path, token=field)
            return web.Response(text=page, content_type="text/html")

        return show

    def action(op: str) -> Callable[[web.Request], Any]:
        async def act(request: web.Request) -> web.Response:
            body = await body_of(request)
            if not allowed(request, body):
                return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
            by = str(body.get("by") or "").strip()
            if not by:
                return web.json_response({"ok": False, "error": "who are you? (by)"}, status=400)
            return await queued(op, by, ref=request.match_info["ref"])

        return act

    async def silence(request: web.Request) -> web.Response:
        body = await body_of(request)
        if not allowed(request, body):
            return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
        try:
            fields = silence_command(
                list(body.get("matchers") or []),
                parse_duration(body.get("duration", "1h"), "duration"),
                str(body.get("comment", "")),
            )
        except AlertError as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        if not fields["matchers"] or not str(body.get("by") or "").strip():
            return web.json_response({"ok": False, "error": "by and matchers needed"}, status=400)
        response = await queued("silence", str(body["by"]), **fields)
        return response if response.status != 200 else web.json_response({"ok": True, **fields})

    app = web.Application()
    app.router.add_get("/alerts", list_alerts)
    app.router.add_get("/ack/{ref}", form("Acknowledge", "ack"))
    app.router.add_post("/ack/{ref}", action("ack"))
    app.router.add_get("/resolve/{ref}", form("Resolve", "resolve"))
    app.router.add_post("/resolve/{ref}", action("resolve"))
    app.router.add_post("/silences", silence)
    return app


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
