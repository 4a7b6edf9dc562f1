"""`loanwatch simulate`: generate a book, send it (Kafka or a file), write its ground truth.

The CLI prints; this function only does the work and returns a
`SimulationSummary`, so it can be called from tests, the demo and notebooks.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from config import Settings
from rules import Event
from streams.simulate.book import DEFAULT_START, BookSpec, BookStats, LoanBook
from streams.simulate.exceptions import SimulateError
from streams.simulate.producer import ProduceReport, produce_book, write_book, write_labels
from streams.simulate.truth import LoanLabel
from streams.topics import ensure_topics

__all__ = ["SimulationSummary", "simulate_command"]


@dataclass(frozen=True, slots=True)
class SimulationSummary:
    """What one simulation run generated and where it went."""

    spec: BookSpec
    events: int
    by_type: dict[str, int]
    by_profile: dict[str, int]
    defaulted: int
    labels_path: Path
    events_path: Path | None
    """The JSON-lines file written instead of Kafka, when one was asked for."""
    produce: ProduceReport | None
    """Kafka delivery counts, when the book went to Kafka."""
    elapsed_s: float
    stats: BookStats

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def ok(self) -> bool:
        """Every event reached its destination."""
        return self.produce is None or (self.produce.ok and self.produce.produced == self.events)


def simulate_command(
    settings: Settings,
    *,
    loans: int,
    months: int,
    seed: int,
    rate: float | None,
    labels_path: Path,
    to_file: Path | None,
    start: date = DEFAULT_START,
    topic: str | None = None,
    cancel: threading.Event | None = None,
) -> SimulationSummary:
    """Simulate ``loans`` loans over ``months`` months from ``start``, seeded by ``seed``.

    With ``to_file`` the events go to that JSON-lines file (``rate`` is
    ignored); otherwise they are produced to ``topic`` (default: the events
    topic, created with the configured partitions if missing) at ``rate``
    events/s, or as fast as possible when ``rate`` is None. The labels, one
    JSON line per loan in loan order, go to ``labels_path`` either way.
    Setting ``cancel`` ends generation at the next event (the demo's Ctrl-C);
    what was generated is still delivered and summarised.
    """
    if rate is not None and rate <= 0:
        raise SimulateError(f"rate must be more than 0 events/s, got {rate}")
    spec = BookSpec(loans=loans, months=months, seed=seed, start=start)
    book = LoanBook(spec)
    labels: list[LoanLabel] = []
    stats = BookStats()
    by_type: Counter[str] = Counter()

    def counted() -> Iterator[Event]:
        for event in book.events(on_label=labels.append, stats=stats):
            if cancel is not None and cancel.is_set():
                return
            by_type[event.type] += 1
            yield event

    started = time.monotonic()
    report: ProduceReport | None = None
    if to_file is not None:
        write_book(counted(), to_file)
    else:
        if topic is None:
            ensure_topics(settings)
        report = produce_book(settings, counted(), rate=rate, topic=topic)
    elapsed = time.monotonic() - started
    labels.sort(key=lambda label: label.loan_id)
    write_labels(labels, labels_path)
    return SimulationSummary(
        spec=spec,
        events=stats.events,
        by_type=dict(sorted(by_type.items())),
        by_profile=dict(sorted(Counter(label.profile.value for label in labels).items())),
        defaulted=sum(label.defaulted for label in labels),
        labels_path=labels_path,
        events_path=to_file,
        produce=report,
        elapsed_s=elapsed,
        stats=stats,
    )
