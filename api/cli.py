"""`loanwatch api` (serve the HTTP API) and `loanwatch api-key create|list|revoke`.

Mounted by streams/cli.py like the alerts commands, and kept here so the main CLI does
not load FastAPI for other commands.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from api.roles import Role

__all__ = ["api_command", "hooks_app", "key_app"]

key_app = typer.Typer(
    help="API keys for integrations (stored hashed in Redis).", no_args_is_help=True
)
hooks_app = typer.Typer(help="Webhook deliveries to integrations.", no_args_is_help=True)
console = Console()


@contextmanager
def _keys() -> Iterator[Any]:
    """The key store; an unreachable Redis ends the command with one line (exit 69)."""
    import redis

    from api.keys import KeyStore
    from config import load_settings
    from config.outage import exits_when_unreachable, redis_address, redis_errors

    settings = load_settings()
    client = redis.Redis.from_url(settings.redis.url, **settings.redis.client_kwargs())
    try:
        with exits_when_unreachable("Redis", redis_address(settings.redis.url), redis_errors()):
            yield KeyStore(client, settings.redis.key_prefix)
    finally:
        client.close()


@key_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Who or what holds it, e.g. crm-prod.")],
    role: Annotated[Role, typer.Option(help="What it may do (docs/api.md, Roles).")],
    team: Annotated[
        str | None, typer.Option(help="Limit it to one team's warnings and outcomes.")
    ] = None,
    rate_per_minute: Annotated[
        int | None,
        typer.Option(
            min=1, help="Its own request limit (default: LOANWATCH_API__RATE_PER_MINUTE)."
        ),
    ] = None,
) -> None:
    """Create a key and print its token once: it is stored only as a hash."""
    with _keys() as keys:
        key, token = keys.create(name, role, team, rate_per_minute=rate_per_minute)
    console.print(f"created key {key.key_id} ({key.name}, {key.role}); its token, shown once:")
    print(token)


@key_app.command("list")
def list_keys(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
) -> None:
    """Every key with its role, team and state (tokens are never shown again)."""
    with _keys() as keys:
        found = keys.list()
    if as_json:
        print(json.dumps([{**vars_of(k)} for k in found], indent=2))
        return
    table = Table("key id", "name", "role", "team", "per minute", "created", "revoked")
    for k in found:
        table.add_row(
            k.key_id, k.name, k.role, k.team or "-", str(k.rate_per_minute or "default"),
            k.created_at, k.revoked_at or "-",
        )  # fmt: skip
    console.print(table)


@key_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key id from `api-key list`.")]) -> None:
    """Revoke a key: its next request is refused (401) and audited as such."""
    with _keys() as keys:
        key = keys.revoke(key_id)
    console.print(f"revoked key {key.key_id} ({key.name}) at {key.revoked_at}")


def vars_of(key: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return {**asdict(key), "role": str(key.role)}


def api_command(
    host: Annotated[str | None, typer.Option(help="Default: LOANWATCH_API__HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: LOANWATCH_API__PORT.")] = None,
) -> None:
    """Serve the HTTP API (docs/api.md) until stopped (SIGTERM/Ctrl-C)."""
    from api.backends import Backends
    from api.server import build, finish, quiet_gc
    from config import load_settings
    from sinks.clickhouse import migrate

    settings = load_settings()
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if overrides:
        settings = settings.model_copy(update={"api": settings.api.model_copy(update=overrides)})
    if settings.api.audit:
        from config.outage import clickhouse_errors, exits_when_unreachable

        with exits_when_unreachable(
            "ClickHouse", settings.clickhouse.address(), clickhouse_errors()
        ):
            migrate(settings)  # api_audit must exist before the first request is audited
    backends = Backends.from_settings(settings)
    server, audit, audit_client = build(backends)
    if audit is not None:
        audit.start()
    console.print(f"Loanwatch API on http://{settings.api.host}:{settings.api.port}")
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    quiet_gc()  # the process is built: what exists now lives as long as it
    try:
        server.run()
    finally:
        finish(audit, audit_client, backends)


@hooks_app.command("run")
def hooks_run() -> None:
    """Deliver warnings to webhook subscriptions until stopped (SIGTERM/Ctrl-C).

    Its own consumer group over the warnings topic; a batch is committed once Redis
    holds its deliveries, so a restart loses none.
    """
    import threading

    from api.webhooks.delivery import run
    from config import load_settings

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    console.print("delivering webhooks; stop with Ctrl-C")
    run(load_settings(), stop)
