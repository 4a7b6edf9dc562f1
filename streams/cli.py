"""The `loanwatch` command: the local stack, the worker, the simulator and the demo.

Typer gives us help text, argument parsing and shell completion for free; rich
prints the tables. Every command reads the same settings tree, so a bad
``LOANWATCH_*`` value stops it at once with the setting's name.
"""

from __future__ import annotations

import atexit
import logging
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from config import LoanwatchError, ServiceUnavailable, Settings, load_settings
from config import stack as local_stack
from config.outage import (
    EXIT_UNAVAILABLE,
    clickhouse_errors,
    exits_when_unreachable,
    redis_address,
    redis_errors,
)

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
db_app = typer.Typer(help="The analysts' ClickHouse database.", no_args_is_help=True)
app.add_typer(db_app, name="db")
sink_app = typer.Typer(
    help="Writers that copy outputs from Kafka into stores.", no_args_is_help=True
)
app.add_typer(sink_app, name="sink")

console = Console()
err_console = Console(stderr=True)
_VERBOSE = "--verbose"


@app.callback()
def _options(
    verbose: Annotated[
        bool,
        typer.Option(
            _VERBOSE,
            help="On failure print the traceback too; log librdkafka's every line (DEBUG). "
            "Accepted anywhere on the command line.",
        ),
    ] = False,
) -> None:
    """Loanwatch: real-time post-loan risk monitoring."""
    if verbose:
        logging.basicConfig(
            level=logging.DEBUG, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    else:  # its "Failed to connect" warning carries a traceback; we say it in one line
        logging.getLogger("clickhouse_driver").setLevel(logging.ERROR)


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
    console.print(
        f"state, logs and data under {settings.stack.state_dir.resolve()}",
        highlight=False,
        soft_wrap=True,
    )


@stack_app.command("down")
def stack_down() -> None:
    """Stop the services the local stack started (by their pid files)."""
    stopped = local_stack.down(_settings())
    console.print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@stack_app.command("status")
def stack_status() -> None:
    """Show each service; exit code 0 only when all are healthy."""
    settings = _settings()
    rows = local_stack.status(settings)
    _print_status(rows)
    console.print(f"state folder: {settings.stack.state_dir}", highlight=False, soft_wrap=True)
    if not all(row.healthy for row in rows):
        raise typer.Exit(code=3)


_FAUST_LEVELS = {
    "debug": "debug",
    "info": "info",
    "warning": "warn",
    "warn": "warn",
    "error": "error",
}


@app.command()
def worker(
    ctx: typer.Context,
    loglevel: Annotated[
        str,
        typer.Option(
            help="Log level: debug, info, warning, error (--verbose: debug).",
            case_sensitive=False,
        ),
    ] = "info",
) -> None:
    """Run the stream worker: consume events, dead-letter bad ones, judge the rest.

    A broker that goes away while it runs is reported in one line, again once a
    minute, and once when it answers again; the clients' own lines are DEBUG.
    """
    level = _FAUST_LEVELS.get(loglevel.lower())
    if level is None:
        raise typer.BadParameter(
            f"expected one of {sorted(_FAUST_LEVELS)}", param_hint="--loglevel"
        )
    if ctx.find_root().params.get("verbose"):
        level = "debug"  # Faust sets up logging itself: --verbose must reach it there
    from streams import local_state
    from streams.app import create_app
    from streams.topics import ensure_topics, wait_for_kafka

    settings = _settings()
    wait_for_kafka(settings)  # a long-running command: retries, says so once a minute
    ensure_topics(settings)
    local_state.prepare(settings.data_dir)
    faust_app = create_app(settings)

    @atexit.register
    def _stopped() -> None:
        if faust_app.crash_reason is None:  # an orderly stop, not a crash
            local_state.mark_clean(settings.data_dir)

    # Faust's own command line reads sys.argv; hand it exactly the worker command.
    sys.argv = ["loanwatch", "worker", "--loglevel", level, "--without-web"]
    faust_app.main()


@app.command()
def simulate(
    loans: Annotated[int, typer.Option(min=1, max=1_000_000, help="Loans in the book.")] = 1_000,
    months: Annotated[int, typer.Option(min=1, max=120, help="Months the book covers.")] = 12,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same book.")] = 7,
    rate: Annotated[
        float | None,
        typer.Option(min=0.001, help="Target events/s to Kafka; omit to send as fast as possible."),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(
            help="Where the ground-truth labels go (JSON lines) "
            "[default: LOANWATCH_STATE_DIR/demo/labels.jsonl]."
        ),
    ] = None,
    to_file: Annotated[
        Path | None,
        typer.Option(help="Write the events to this JSON-lines file instead of Kafka."),
    ] = None,
) -> None:
    """Generate a seeded synthetic loan book and send it to the events topic (or a file)."""
    from streams.simulate import simulate_command

    settings = _settings()
    where = str(to_file) if to_file is not None else f"Kafka topic {settings.topics.events}"
    with console.status(f"simulating {loans} loans over {months} months to {where}..."):
        summary = simulate_command(
            settings,
            loans=loans,
            months=months,
            seed=seed,
            rate=rate,
            labels_path=labels or settings.state_dir / "demo" / "labels.jsonl",
            to_file=to_file,
        )
    by_type = Table("event type", "events", title="events by type", title_justify="left")
    for name, count in summary.by_type.items():
        by_type.add_row(name, f"{count:,}")
    by_type.add_row("[bold]total[/]", f"[bold]{summary.events:,}[/]")
    by_profile = Table("profile", "loans", title="loans by profile", title_justify="left")
    for name, count in summary.by_profile.items():
        by_profile.add_row(name, f"{count:,}")
    by_profile.add_row("[bold]defaulted[/]", f"{summary.defaulted:,}")
    delivery = Table("", "", title="delivery", title_justify="left", show_header=False)
    delivery.add_row("destination", where)
    if summary.produce is not None:
        report = summary.produce
        delivery.add_row("produced", f"{report.produced:,}")
        delivery.add_row("delivered", f"{report.delivered:,}")
        delivery.add_row("failed", f"{report.failed:,}")
        delivery.add_row(
            "target rate", "max" if report.target_rate is None else f"{report.target_rate:,.0f}/s"
        )
        delivery.add_row("achieved rate", f"{report.rate:,.0f} events/s (delivered)")
    delivery.add_row("generated", f"{summary.events_per_s:,.0f} events/s end to end")
    delivery.add_row("elapsed", f"{summary.elapsed_s:.2f}s")
    delivery.add_row("labels", str(summary.labels_path))
    if console.width >= 110:
        grid = Table.grid(padding=(0, 4))
        grid.add_row(by_type, by_profile, delivery)
        console.print(grid)
    else:  # a narrow terminal or a pipe: one table under the other
        for table in (by_type, by_profile, delivery):
            console.print(table)
    if not summary.ok:
        errors = summary.produce.errors if summary.produce is not None else ()
        for reason in errors:
            console.print(f"produce error: {reason}", highlight=False, soft_wrap=True)
        console.print("[bold red]simulation FAILED[/]: not every event was delivered")
        raise typer.Exit(code=1)


@app.command()
def demo(
    loans: Annotated[int, typer.Option(min=1, max=100_000, help="Loans in the book.")] = 300,
    months: Annotated[int, typer.Option(min=1, max=60, help="Months the book covers.")] = 6,
    seed: Annotated[int, typer.Option(help="Seed of the simulated book.")] = 7,
    rate: Annotated[
        float | None,
        typer.Option(min=0.001, help="Target events/s of the simulator (--max-rate: no limit)."),
    ] = 2_000.0,
    max_rate: Annotated[
        bool, typer.Option("--max-rate", help="Send the book as fast as possible.")
    ] = False,
    max_seconds: Annotated[
        float, typer.Option(min=1, help="Stop after this long even if warnings still arrive.")
    ] = 600.0,
    quiet: Annotated[
        float, typer.Option(min=0.5, help="Seconds without a warning that end the run.")
    ] = 5.0,
    keep: Annotated[
        bool, typer.Option(help="Keep the run's Kafka topics and worker data afterwards.")
    ] = False,
) -> None:
    """Run a seeded book through a real worker, watch the warnings live, score them."""
    from streams.demo import run_demo, scores_table

    settings = _settings()
    # Without a terminal rich would wrap at 80 columns: give the tables room.
    view = console if console.is_terminal else Console(width=max(console.width, 140))
    try:
        result = run_demo(
            settings,
            loans=loans,
            months=months,
            seed=seed,
            rate=None if max_rate else rate,
            max_seconds=max_seconds,
            quiet_s=quiet,
            keep=keep,
            console=view,
        )
    except KeyboardInterrupt:
        err_console.print("interrupted: the worker was stopped")
        raise typer.Exit(code=130) from None
    view.print(
        scores_table(
            result.scores,
            title="detected vs ground truth (loans; lag d = median days from label to warning)",
        )
    )
    view.print(
        scores_table(
            result.model_scores,
            title="the online models vs what later happened (negative lag: warned before)",
        )
    )
    if result.unscored:
        view.print(
            "labelled but no rule in the pack watches them: "
            + ", ".join(f"{name} {count}" for name, count in result.unscored.items()),
            highlight=False,
        )
    sim = result.simulation
    if sim is not None:
        view.print(
            f"events {sim.events:,} ({sim.events_per_s:,.0f}/s), warnings received "
            f"{result.tally.received:,}; summary written to {result.summary_path}",
            highlight=False,
        )
    if result.error:
        view.print(f"[bold red]demo FAILED[/]: {result.error}", highlight=False)
        if sim is not None and sim.produce is not None:
            for reason in sim.produce.errors:
                view.print(f"produce error: {reason}", highlight=False)
        raise typer.Exit(code=1)
    if sim is not None and not sim.ok:
        view.print("[bold red]demo FAILED[/]: not every event was delivered")
        raise typer.Exit(code=1)
    if result.stopped == "time limit":
        view.print(f"[yellow]stopped at the --max-seconds limit ({max_seconds:g}s)[/]")
    else:
        view.print(f"[bold green]demo OK[/] in {result.elapsed_s:.1f}s")


@app.command()
def backtest(
    events: Annotated[
        str,
        typer.Argument(
            help="The history: a JSON-lines file of events, one per line, or a Kafka topic, "
            "kafka:TOPIC[@START..END] (offsets, or ISO times with their UTC offset)."
        ),
    ],
    pack: Annotated[
        Path | None, typer.Option(help="The candidate rule pack (default: the built-in pack).")
    ] = None,
    against: Annotated[
        Path | None,
        typer.Option(help="Compare with this pack (default with --pack: the built-in pack)."),
    ] = None,
    horizon: Annotated[
        int, typer.Option(min=1, max=3650, help="Days after an alert the outcome must come in.")
    ] = 90,
    outcome_dpd: Annotated[
        int, typer.Option(min=1, max=3650, help="DPD that makes a loan bad (or a write-off).")
    ] = 60,
    models: Annotated[
        bool, typer.Option(help="Score with the online models, as the worker does (slower).")
    ] = False,
    budget: Annotated[
        float | None,
        typer.Option(min=0, help="Alerts per 1,000 loan-months staff can act on: which rules fit."),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the figures as JSON here.")
    ] = None,
    to_clickhouse: Annotated[
        bool,
        typer.Option(
            "--to-clickhouse", help="Also store the run in ClickHouse (backtest_runs and results)."
        ),
    ] = False,
    run_id: Annotated[
        str | None,
        typer.Option(help="The stored run's id (default: a new one); the same id replaces it."),
    ] = None,
) -> None:
    """Replay an event history offline and judge each rule's warnings by what came after."""
    from streams.backtest.cli import backtest_command

    backtest_command(
        _settings(),
        events,
        pack=pack,
        against=against,
        horizon=horizon,
        outcome_dpd=outcome_dpd,
        models=models,
        budget=budget,
        json_path=json_path,
        console=console,
        err_console=err_console,
        to_clickhouse=to_clickhouse,
        run_id=run_id,
    )


@app.command()
def smoke(
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


@db_app.command("migrate")
def db_migrate() -> None:
    """Create the database and apply pending migrations (safe to repeat)."""
    from sinks.clickhouse import migrate

    settings = _settings()
    with exits_when_unreachable("ClickHouse", settings.clickhouse.address(), clickhouse_errors()):
        applied = migrate(settings)
    for migration in applied:
        console.print(f"applied {migration.version}: {migration.name}")
    if not applied:
        console.print("database already up to date")


@sink_app.command("clickhouse")
def sink_clickhouse(
    max_rows: Annotated[int, typer.Option(min=1, help="Rows per insert at most.")] = 10_000,
    max_wait_s: Annotated[float, typer.Option(min=0.01, help="Seconds a batch may wait.")] = 1.0,
) -> None:
    """Copy warnings, transitions, actions and model metrics into ClickHouse until stopped.

    Its own consumer group; offsets are committed only after ClickHouse accepted a batch.
    """
    import signal
    import threading

    from sinks.clickhouse import migrate_when_reachable, run

    settings = _settings()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if not migrate_when_reachable(settings, stop):
        return
    console.print("writing to ClickHouse; stop with Ctrl-C")
    run(settings, stop, max_rows=max_rows, max_wait_s=max_wait_s)


@sink_app.command("redis")
def sink_redis(
    rebuild: Annotated[
        bool,
        typer.Option("--rebuild", help="First delete the view and replay its topics into it."),
    ] = False,
) -> None:
    """Keep the Redis risk cards (warnings, bucket/class transitions) and the models' latest
    metrics up to date until stopped."""
    import signal
    import threading

    from sinks.redis import run

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    first = "rebuilding the view, then " if rebuild else ""
    console.print(f"{first}writing to Redis; stop with Ctrl-C")
    run(_settings(), stop, rebuild=rebuild)


@app.command()
def lookup(loan_id: Annotated[str, typer.Argument(help="The loan to show.")]) -> None:
    """Print a loan's risk card with its open and recent warnings, from Redis.

    Without a card, the loan book in ClickHouse says whether the loan exists: exit 3
    for a loan nothing was raised about, 1 for no such loan.
    """
    from sinks.clickhouse.loan_book import loan_book
    from sinks.redis import lookup_command

    settings = _settings()
    with exits_when_unreachable("Redis", redis_address(settings.redis.url), redis_errors()):
        code = lookup_command(settings, loan_id, known=lambda loan: loan_book(settings, loan))
    if code:
        raise typer.Exit(code=code)


@app.command("model-metrics")
def model_metrics(
    model: Annotated[
        str | None,
        typer.Argument(help="Only this model (pd, pd_current, intent); all when left out."),
    ] = None,
) -> None:
    """Print each model's latest progressive metrics per partition, from Redis."""
    from sinks.redis import latest_metrics_command

    settings = _settings()
    with exits_when_unreachable("Redis", redis_address(settings.redis.url), redis_errors()):
        code = latest_metrics_command(settings, model)
    if code:
        raise typer.Exit(code=code)


# -- alerts: the on-call push path; its commands live in sinks/alerts/cli.py ------------
from sinks.alerts.cli import alerts_app  # noqa: E402 - mounted here, kept apart from the rest

app.add_typer(alerts_app, name="alerts")

from streams.dlq_cli import dlq_app  # noqa: E402 - mounted here, kept apart from the rest

app.add_typer(dlq_app, name="dlq")

from reports.cli import report_app  # noqa: E402 - mounted here, kept apart from the rest

app.add_typer(report_app, name="report")

# -- the HTTP API and its keys: api/cli.py (FastAPI loads only when `api` runs) --------
from api.cli import api_command, hooks_app, key_app  # noqa: E402 - mounted here, kept apart

app.command("api")(api_command)
app.add_typer(key_app, name="api-key")
app.add_typer(hooks_app, name="webhooks")


def main() -> None:
    """Console-script entry point: turn our own errors into one clear line.

    Exit 2 for a setting or input at fault, `EXIT_UNAVAILABLE` (69) for a service that
    cannot be reached, 130 for Ctrl-C; ``--verbose`` adds the traceback.
    """
    verbose = _VERBOSE in sys.argv[1:]
    if verbose:  # accepted after the command too: it is an option of `loanwatch` itself
        sys.argv = [sys.argv[0], _VERBOSE, *(a for a in sys.argv[1:] if a != _VERBOSE)]
    try:
        app()
    except LoanwatchError as exc:
        if verbose:
            err_console.print(traceback.format_exc(), highlight=False, markup=False)
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_UNAVAILABLE if isinstance(exc, ServiceUnavailable) else 2)
    except KeyboardInterrupt:
        if verbose:
            err_console.print(traceback.format_exc(), highlight=False, markup=False)
        err_console.print("interrupted (Ctrl-C); stopped", highlight=False)
        sys.exit(130)


if __name__ == "__main__":
    main()
