"""`loanwatch alerts run|ack|resolve|silence|expire|list`: the on-call side of the command line.

A typer sub-app of its own, so the main CLI (streams/cli.py) only mounts it. Acks,
resolutions and silences are queued for the running service (who and when recorded);
`list` reads the stored state directly.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["alerts_app"]

alerts_app = typer.Typer(
    help="Push alerts for on-call staff: run the service, ack, resolve, silence, list.",
    no_args_is_help=True,
)
console = Console()


@contextmanager
def _store() -> Iterator[Any]:
    """The alert store in Redis; an unreachable Redis ends the command with one line."""
    import redis

    from config import load_settings
    from config.outage import exits_when_unreachable, redis_address, redis_errors
    from sinks.alerts.store import AlertStore

    settings = load_settings()
    client = redis.Redis.from_url(settings.redis.url, **settings.redis.client_kwargs())
    try:
        with exits_when_unreachable("Redis", redis_address(settings.redis.url), redis_errors()):
            yield AlertStore(client, settings.redis.key_prefix + "alerts:")
    finally:
        client.close()


def _me() -> str:
    try:
        return getpass.getuser()
    except OSError:
        return "unknown"


def _answer(answer: dict[str, Any], done: str) -> None:
    if answer.get("ok"):
        console.print(done)
    elif answer.get("queued"):
        console.print("[yellow]queued[/]: no alerts service answered; it applies this on start")
    else:
        console.print(f"[bold red]refused[/]: {answer.get('error')}", highlight=False)
        raise typer.Exit(code=1)


@alerts_app.command("run")
def run(
    config: Annotated[
        Path | None,
        typer.Option(help="Routing YAML (default: LOANWATCH_ALERTS__CONFIG_FILE)."),
    ] = None,
    http: Annotated[bool, typer.Option(help="Serve the ack/resolve endpoint.")] = True,
    local_only: Annotated[
        bool,
        typer.Option(
            "--local-only",
            help="Serve the endpoint without a token, on loopback only "
            "(LOANWATCH_ALERTS__HTTP_LOCAL_ONLY); cross-site requests are still refused.",
        ),
    ] = False,
) -> None:
    """Route warnings to on-call receivers until stopped (SIGTERM/Ctrl-C)."""
    import signal
    import threading

    from config import ConfigError, load_settings
    from sinks.alerts.access import endpoint_access
    from sinks.alerts.http import make_app, serve_in_thread
    from sinks.alerts.routing_file import load_config
    from sinks.alerts.service import AlertService

    settings = load_settings()
    path = config or settings.alerts.config_file
    if path is None:
        raise ConfigError("invalid setting LOANWATCH_ALERTS__CONFIG_FILE: no routing file given")
    routing = load_config(path)
    serve_http = http and settings.alerts.http_port is not None
    access = (  # before anything starts: no credential, no service
        endpoint_access(settings.alerts, local_only=local_only, ack_url=routing.ack_url)
        if serve_http
        else None
    )
    if settings.alerts.clickhouse:
        from config.outage import short_reason
        from sinks.clickhouse import migrate

        try:
            migrate(settings)  # alert_events; the history waits in Redis if this fails
        except Exception as exc:  # noqa: BLE001 - alerting must not depend on ClickHouse
            console.print(
                f"[yellow]cannot migrate ClickHouse at {settings.clickhouse.address()} "
                f"({short_reason(exc)}); alerting without it, alert events wait in Redis[/]",
                highlight=False,
            )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    service = AlertService(settings, routing, stop_event=stop)
    stop_http = None
    if access is not None and settings.alerts.http_port is not None:
        app = make_app(service.store, access)
        stop_http = serve_in_thread(app, settings.alerts.http_host, settings.alerts.http_port)
        mode = "local-only, no token" if access.local_only else "token required"
        console.print(
            f"ack endpoint on http://{settings.alerts.http_host}:{settings.alerts.http_port}"
            f" ({mode})"
        )
    console.print(f"alerting from {settings.topics.warnings}; stop with Ctrl-C")
    try:
        service.run()
    finally:
        if stop_http is not None:
            stop_http()


def _act(op: str, ref: str, by: str, done: str) -> None:
    from sinks.alerts.commands import known_refs, submit, unique_prefix

    who = by or _me()
    with _store() as store:
        ref = unique_prefix(ref, known_refs(store))
        answer = submit(store, op, who, ref=ref)
    _answer(answer, f"{done} {ref} as {who}")


@alerts_app.command("ack")
def ack(
    ref: Annotated[
        str, typer.Argument(help="Group ref (from the message) or warning id, or a unique prefix.")
    ],
    by: Annotated[str, typer.Option(help="Who takes it.")] = "",
) -> None:
    """Acknowledge a group or one alert: stops repeats and escalation."""
    _act("ack", ref, by, "acknowledged")


@alerts_app.command("resolve")
def resolve(
    ref: Annotated[str, typer.Argument(help="Group ref or warning id, or a unique prefix.")],
    by: Annotated[str, typer.Option(help="Who resolves it.")] = "",
) -> None:
    """Resolve by hand (e.g. an event rule's alert, which never resolves by itself)."""
    _act("resolve", ref, by, "resolved")


@alerts_app.command("silence")
def silence(
    match: Annotated[
        list[str], typer.Option("--match", help='Matcher, e.g. team="collections" (repeatable).')
    ],
    duration: Annotated[str, typer.Option("--for", help="How long: 30m, 2h, 1d.")] = "1h",
    comment: Annotated[str, typer.Option(help="Why (shown to colleagues).")] = "",
    author: Annotated[str, typer.Option(help="Who silences.")] = "",
) -> None:
    """Hold matching alerts back for a while; prints the silence id (for `expire`)."""
    from sinks.alerts.commands import SILENCE_MAX_S, silence_command, submit
    from sinks.alerts.durations import parse_duration

    fields = silence_command(match, parse_duration(duration, "--for", SILENCE_MAX_S), comment)
    with _store() as store:
        answer = submit(store, "silence", author or _me(), **fields)
    _answer(answer, f"silence {fields['id']} until {fields['ends_at']}")


@alerts_app.command("expire")
def expire(
    silence_id: Annotated[str, typer.Argument(help="The silence to end now.")],
    by: Annotated[str, typer.Option(help="Who ends it.")] = "",
) -> None:
    """End a silence now."""
    from sinks.alerts.commands import submit

    with _store() as store:
        answer = submit(store, "expire", by or _me(), id=silence_id)
    _answer(answer, f"expired {silence_id}")


@alerts_app.command("list")
def list_alerts(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Open alert groups (masked refs) and silences in force."""
    from sinks.alerts.commands import overview

    with _store() as store:
        view = overview(store)
    if as_json:
        console.print_json(json.dumps(view))
        return
    table = Table("group", "receiver", "labels", "alert", "rule", "sev", "loan", "state")
    for group in view["groups"]:
        labels = ",".join(f"{k}={v}" for k, v in group["labels"].items())
        for a in group["alerts"]:
            state = a["state"] + (f" by {a['acked_by']}" if a["acked_by"] else "")
            table.add_row(
                group["ref"],
                group["receiver"],
                labels,
                a["warning_id"],
                a["rule"],
                a["severity"],
                a["loan"],
                state,
            )
    console.print(table)
    for s in view["silences"]:
        console.print(
            f"silence {s['id']} by {s['author']} until {s['ends_at']}: "
            f"{' '.join(s['matchers'])} ({s['comment']})",
            highlight=False,
        )
