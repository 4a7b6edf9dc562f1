"""What the sink writers report about themselves: a hooks object, silent by default.

A writer calls its hooks at the few moments worth watching (a batch stored, a
store gone away and back, a view rebuilt); what is done with them is the
deployment's choice. `SinkMetrics` does nothing, so a writer without metrics pays
one method call per batch. `CountingMetrics` keeps counters and gauges in memory,
which is what tests and the benchmark read, and what an exporter (Prometheus,
statsd) would publish.

>>> metrics = CountingMetrics()
>>> metrics.degraded("redis", True)
>>> metrics.degraded("redis", False)
>>> metrics.gauges["redis.degraded"], metrics.counters["redis.degraded_total"]
(0, 1)
"""

from __future__ import annotations

import threading
from collections import Counter

__all__ = ["CountingMetrics", "SinkMetrics"]


class SinkMetrics:
    """Hooks every writer calls; each does nothing here. Override the ones you need."""

    def batch_written(self, sink: str, rows: int, seconds: float) -> None:
        """A batch of ``rows`` reached the store and its offsets were committed."""

    def retried(self, sink: str) -> None:
        """The store refused "not now" once; the batch is kept and retried."""

    def degraded(self, sink: str, degraded: bool) -> None:
        """The store became unavailable (True) or is back (False); called on changes only."""

    def rebuilt(self, sink: str, records: int) -> None:
        """The sink replayed its topic from the beginning into a store that lost its data."""


class CountingMetrics(SinkMetrics):
    """In-memory counters (``<sink>.<name>_total``) and gauges (``<sink>.<name>``).

    Thread-safe: writers run in their own threads while a reader polls.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: Counter[str] = Counter()
        self.gauges: dict[str, float] = {}

    def batch_written(self, sink: str, rows: int, seconds: float) -> None:
        with self._lock:
            self.counters[f"{sink}.batches_total"] += 1
            self.counters[f"{sink}.rows_total"] += rows
            self.gauges[f"{sink}.last_batch_seconds"] = seconds

    def retried(self, sink: str) -> None:
        with self._lock:
            self.counters[f"{sink}.retries_total"] += 1

    def degraded(self, sink: str, degraded: bool) -> None:
        with self._lock:
            self.gauges[f"{sink}.degraded"] = int(degraded)
            if degraded:
                self.counters[f"{sink}.degraded_total"] += 1

    def rebuilt(self, sink: str, records: int) -> None:
        with self._lock:
            self.counters[f"{sink}.rebuilds_total"] += 1
            self.counters[f"{sink}.rebuilt_records_total"] += records
