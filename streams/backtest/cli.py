"""The ``loanwatch backtest`` command's body: settings and options in, tables out.

Kept out of `streams.cli` so that module stays a list of commands; this one
builds the packs, the progress bar and the report, and does the printing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from config import Settings
from models.hub import HubConfig
from rules.pack import RulePack, default_pack, load_pack
from rules.policy import load_policy
from rules.workflows import load_workflow_policy
from streams.backtest.command import BacktestOptions, run_backtest
from streams.backtest.exceptions import BacktestError
from streams.backtest.history import FileHistory, History
from streams.backtest.kafka import PREFIX, KafkaHistory, TopicRange
from streams.backtest.report import render, report_json
from streams.backtest.store import new_run_id, run_rows, store_run

__all__ = ["backtest_command", "open_history"]


def open_history(events: str, settings: Settings) -> History:
    """``kafka:TOPIC[@START..END]`` names a topic (streams/backtest/kafka.py); else a file."""
    if events.startswith(PREFIX):
        return KafkaHistory(settings.kafka.confluent_config(), TopicRange.parse(events))
    path = Path(events)
    if not path.is_file():
        raise BacktestError(f"history {events} is not a readable file (a topic is kafka:TOPIC)")
    return FileHistory(path)


def _packs(pack: Path | None, against: Path | None) -> tuple[RulePack, RulePack | None]:
    """The candidate and the pack it is compared with (None: no comparison)."""
    candidate = load_pack(pack) if pack is not None else default_pack()
    if against is not None:
        return candidate, load_pack(against)
    return candidate, (default_pack() if pack is not None else None)


def backtest_command(
    settings: Settings,
    events: str,
    *,
    pack: Path | None,
    against: Path | None,
    horizon: int,
    outcome_dpd: int,
    models: bool,
    budget: float | None,
    json_path: Path | None,
    console: Console,
    err_console: Console,
    to_clickhouse: bool = False,
    run_id: str | None = None,
) -> None:
    """Run the backtest, print the report, write the JSON and the ClickHouse rows when asked."""
    ran_at = datetime.now(UTC).replace(microsecond=0)  # whole seconds, as 18.16 stores them
    history = open_history(events, settings)
    candidate, other = _packs(pack, against)
    worker = settings.worker
    options = BacktestOptions(
        horizon_days=horizon,
        outcome_dpd=outcome_dpd,
        models=HubConfig(pd_candidate=worker.pd_model) if models else None,
        warmup_labels=worker.model_warmup_labels,
        budget=budget,
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[events]:,} events"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("replaying", total=history.size, events=0)

        def progress(name: str, count: int) -> None:
            bar.update(
                task, description=f"replaying ({name})", completed=history.position, events=count
            )

        report = run_backtest(
            history,
            pack=candidate,
            against=other,
            policy=load_policy(worker.policy_file),
            workflows=load_workflow_policy(worker.workflows_file),
            options=options,
            progress=progress,
        )
    # Without a terminal rich would wrap at 80 columns: give the tables room.
    view = console if console.is_terminal else Console(width=max(console.width, 140))
    render(report, view)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_bytes(report_json(report))
        view.print(f"figures written to {json_path}", highlight=False)
    if to_clickhouse:
        run_id = run_id or new_run_id(ran_at)
        store_run(settings.clickhouse, run_rows(report, run_id, ran_at))
        where = f"{settings.clickhouse.database}.backtest_runs"
        view.print(f"run {run_id} stored in ClickHouse {where}", highlight=False)
