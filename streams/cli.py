"""The `loanwatch` command: the local stack, the demo and (later) the worker.

Typer gives us help text, argument parsing and shell completion for free; rich
prints the tables. Every command reads the same settings tree, so a bad
``LOANWATCH_*`` value stops it at once with the setting's name.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from config import LoanwatchError, Settings, load_settings
from config import stack as local_stack

__all__ = ["app", "main"]

app = typer.Typer(
    help="Loanwatch: real-time post-loan risk monitoring.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stack_app = typer.Typer(
    help="Run real Kafka, Redis and ClickHouse on loopback.", no_args_is_help=True
)
app.add_typer(stack_app, name="stack")

console = Console()
err_console = Console(stderr=True)


def _settings() -> Settings:
    return load_settings()


def _print_status(rows: list[local_stack.ServiceStatus]) -> None:
    table = Table("service", "pid", "healthy", "detail")
    for row in rows:
        mark = "[green]yes[/]" if row.healthy else "[red]no[/]"
        table.add_row(row.name, str(row.pid or "-"), mark, row.detail)
    console.print(table)


@stack_app.command("up")
def stack_up(
    install: Annotated[
        bool, typer.Option(help="Install missing Debian packages with apt-get (needs root).")
    ] = True,
) -> None:
    """Start the local stack (idempotent) and wait until every service is healthy."""
    settings = _settings()
    with console.status("starting Kafka, Redis and ClickHouse..."):
        rows = local_stack.up(settings, allow_install=install)
    _print_status(rows)
    console.print(f"state, logs and data under {settings.stack.state_dir.resolve()}")


@stack_app.command("down")
def stack_down() -> None:
    """Stop the services the local stack started (by their pid files)."""
    stopped = local_stack.down(_settings())
    console.print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@stack_app.command("status")
def stack_status() -> None:
    """Show each service; exit code 0 only when all are healthy."""
    rows = local_stack.status(_settings())
    _print_status(rows)
    if not all(row.healthy for row in rows):
        raise typer.Exit(code=3)


@app.command()
def worker(
    loglevel: Annotated[str, typer.Option(help="Log level: debug, info, warning.")] = "info",
) -> None:
    """Run the stream worker: consume events, dead-letter bad ones, judge the rest."""
    from streams.app import create_app
    from streams.topics import ensure_topics

    settings = _settings()
    ensure_topics(settings)
    faust_app = create_app(settings)
    # Faust's own command line reads sys.argv; hand it exactly the worker command.
    sys.argv = ["loanwatch", "worker", "--loglevel", loglevel, "--without-web"]
    faust_app.main()


@app.command()
def demo(
    loans: Annotated[int, typer.Option(min=1, max=10_000, help="Loans in the sample book.")] = 5,
) -> None:
    """Bring the stack up and round-trip a sample loan book through Kafka, Redis, ClickHouse."""
    from streams.smoke import run_smoke

    settings = _settings()
    with console.status("starting the local stack..."):
        local_stack.up(settings)
    with console.status("round-tripping events..."):
        report = run_smoke(settings, loans=loans)
    table = Table("step", "sent", "came back", title=f"smoke run {report.run_id}")
    table.add_row(
        f"Kafka topic {settings.topics.events}", str(report.produced), str(report.consumed)
    )
    table.add_row("decoded by the event contract", str(report.expected_good), str(report.decoded))
    table.add_row(
        "rejected with a reason",
        str(report.produced - report.expected_good),
        str(len(report.rejected)),
    )
    table.add_row("Redis loan cards", str(report.expected_loans), str(report.redis_cards))
    table.add_row(
        f"ClickHouse {settings.clickhouse.database}.smoke_events",
        str(report.expected_good),
        str(report.clickhouse_rows),
    )
    console.print(table)
    for reason in report.rejected:
        console.print(f"rejected: {reason}", highlight=False, soft_wrap=True)
    if not report.ok:
        console.print("[bold red]round trip FAILED[/]: counts differ (see table)")
        raise typer.Exit(code=1)
    console.print("[bold green]round trip OK[/]: Kafka, Redis and ClickHouse all answered in full")


def main() -> None:
    """Console-script entry point: turn our own errors into one clear line, exit 2."""
    try:
        app()
    except LoanwatchError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
