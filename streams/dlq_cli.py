"""`loanwatch dlq list|show|replay`: the dead-letter topic, read and replayed.

A typer sub-app of its own, mounted by the main CLI (streams/cli.py); the work is
in `streams.dead_letters`.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from config import Settings, load_settings
from streams.dead_letters import Letter, read_letters, replay

__all__ = ["dlq_app"]

dlq_app = typer.Typer(
    help="The dead-letter topic: list what was refused and why, replay it once fixed.",
    no_args_is_help=True,
)
console = Console()

Reason = Annotated[str | None, typer.Option(help="Only letters whose reason holds this text.")]
Loan = Annotated[str | None, typer.Option(help="Only letters of this loan_id.")]


def _selected(settings: Settings, reason: str | None, loan: str | None) -> list[Letter]:
    """Letters refused on the events topic (ticks are the worker's own) that pass the filters."""
    events = settings.topics.events
    return [
        letter
        for letter in read_letters(settings)
        if letter.matches(reason=reason, loan=loan, source=events)
    ]


@dlq_app.command("list")
def list_letters(
    reason: Reason = None,
    loan: Loan = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many, oldest first.")] = 50,
) -> None:
    """One line per dead letter of the events topic: place, when, loan, type and reason."""
    settings = load_settings()
    letters = _selected(settings, reason, loan)
    table = Table("place", "rejected at", "source offset", "loan", "type", "reason")
    for letter in letters[:limit]:
        table.add_row(
            letter.place,
            letter.header("lw.rejected_at")[:19],
            f"{letter.header('lw.source.partition')}:{letter.header('lw.source.offset')}",
            escape(letter.loan_id or "-"),
            letter.header("lw.event_type") or "-",
            escape(letter.reason[:120]),
        )
    console.print(table)
    console.print(
        f"{len(letters)} letter(s) in {settings.topics.dlq}; {min(limit, len(letters))} shown"
    )


@dlq_app.command("show")
def show(
    place: Annotated[str, typer.Argument(help="PARTITION:OFFSET in the DLQ, from `dlq list`.")],
) -> None:
    """Every header of one letter, then its original value as sent (UTF-8, or hex)."""
    settings = load_settings()
    found = next((x for x in read_letters(settings) if x.place == place), None)
    if found is None:
        console.print(f"no letter at {escape(place)} in {settings.topics.dlq}")
        raise typer.Exit(code=1)
    for name, value in sorted(found.headers.items()):
        console.print(f"{name}: {escape(value.decode('utf-8', 'replace'))}", highlight=False)
    key = found.key.decode("utf-8", "replace") if found.key is not None else "(none)"
    console.print(f"key: {escape(key)}", highlight=False)
    try:
        body = found.value.decode("utf-8")
    except UnicodeDecodeError:
        body = found.value.hex()
    sys.stdout.write(body + "\n")


@dlq_app.command("replay")
def replay_letters(
    reason: Reason = None,
    loan: Loan = None,
    dry_run: Annotated[bool, typer.Option(help="Say what would be sent; send nothing.")] = False,
    force: Annotated[
        bool, typer.Option(help="Send letters the worker would refuse again, too.")
    ] = False,
) -> None:
    """Send dead letters back to the events topic, key and value as they were.

    Each is first checked as the worker would check it; one that would be refused
    again stays (unless --force) and the command exits 1. Repeating a replay is
    harmless: the worker drops events whose id the loan has seen.
    """
    settings = load_settings()
    letters = _selected(settings, reason, loan)

    def report(letter: Letter, why: str | None, sent: bool) -> None:
        if why is None:
            verb = "sent" if sent else "would send"
        else:
            verb = "sent anyway" if sent else ("would send anyway" if force else "held back")
        tail = f": {escape(why[:160])}" if why else ""
        console.print(
            f"{letter.place} {escape(letter.loan_id or '-')} {verb}{tail}", highlight=False
        )

    sent, held = replay(settings, letters, force=force, dry_run=dry_run, report=report)
    what = "would be sent" if dry_run else "sent"
    console.print(f"{sent} {what} to {settings.topics.events}, {held} held back")
    if held:
        raise typer.Exit(code=1)
