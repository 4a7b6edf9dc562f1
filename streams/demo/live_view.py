"""The demo's live view: the latest warnings, counts by rule and severity, and progress.

On a terminal the view is redrawn in place (rich's `Live`); without one (CI,
``make demo | tee``) the run prints `Progress.line` every few seconds and one
final render. `scores_table` renders the scores at the end.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from streams.demo.grading import SEVERITIES, SignalScore, WarningTally

__all__ = ["Progress", "render", "scores_table"]

_SEVERITY_STYLE: Final = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def scores_table(scores: Iterable[SignalScore], title: str | None = None) -> Table:
    """The per-signal recall and precision as a rich table."""
    table = Table(title=title, title_justify="left")
    table.add_column("signal")
    table.add_column("rules", overflow="fold")
    for name in ("labelled", "detected", "missed", "flagged", "false alarms"):
        table.add_column(name, justify="right")
    table.add_column("recall", justify="right")
    table.add_column("precision", justify="right")
    table.add_column("lag d", justify="right")
    for score in scores:
        table.add_row(
            score.signal,
            ", ".join(score.rules),
            str(score.labelled),
            str(score.detected),
            str(score.missed),
            str(score.flagged),
            str(score.false_alarms),
            _pct(score.recall),
            _pct(score.precision),
            "-" if score.median_lag_days is None else f"{score.median_lag_days:+g}",
        )
    return table


@dataclass
class Progress:
    """Where the run stands: filled in by the meter and the run, shown by the view."""

    run_id: str
    started: float
    events_in_topic: int = 0
    events_judged: int = 0
    ticks_judged: int = 0
    lag: int | None = None
    simulator: str = "running"

    def line(self, tally: WarningTally) -> str:
        lag = "?" if self.lag is None else f"{self.lag:,}"
        # Wall-clock ticks pass through the ticks topic; the event clock's are judged inline.
        ticks = f"ticks {self.ticks_judged:,} | " if self.ticks_judged else ""
        return (
            f"[{time.monotonic() - self.started:5.1f}s] simulator {self.simulator} | "
            f"events produced {self.events_in_topic:,} judged {self.events_judged:,} "
            f"(lag {lag}) | {ticks}warnings received {tally.received:,} "
            f"(open {tally.by_status['open']:,}, resolved {tally.by_status['resolved']:,})"
        )


def render(tally: WarningTally, progress: Progress) -> RenderableType:
    """One frame of the live view."""
    latest = Table(title="latest warnings", title_justify="left", expand=True)
    latest.add_column("day", no_wrap=True)
    latest.add_column("loan", no_wrap=True)
    latest.add_column("rule", no_wrap=True)
    latest.add_column("severity", no_wrap=True)
    latest.add_column("status", no_wrap=True)
    latest.add_column("DPD", justify="right")
    latest.add_column("bucket")
    latest.add_column("message", overflow="ellipsis", no_wrap=True, ratio=1)
    for warning in reversed(tally.latest):
        severity = str(warning.get("severity", "?"))
        latest.add_row(
            str(warning.get("event_time") or "")[:10],
            str(warning.get("loan_id", "?")),
            str(warning.get("rule_id", "?")),
            Text(severity, style=_SEVERITY_STYLE.get(severity, "")),
            str(warning.get("status", "?")),
            str(warning.get("dpd", "")),
            str(warning.get("bucket", "")),
            str(warning.get("message", "")),
        )
    rules = Table("rule", "opened", title="by rule", title_justify="left")
    for rule, count in tally.by_rule.most_common(14):
        rules.add_row(rule, f"{count:,}")
    severities = Table("severity", "opened", title="by severity", title_justify="left")
    for severity in SEVERITIES:
        severities.add_row(
            Text(severity, style=_SEVERITY_STYLE[severity]), f"{tally.by_severity[severity]:,}"
        )
    counts = Table.grid(padding=(0, 4))
    counts.add_row(rules, severities)
    return Group(Text(progress.line(tally), style="bold"), latest, counts)
