"""Keeps the worker's long-lived objects out of the cyclic garbage collector's path.

A worker holds a few hundred thousand objects that live as long as it does:
imported modules, Faust's machinery, the partitions' models, cached records.
CPython's full (generation 2) collection walks all of them, and a busy worker
triggers one whenever the survivors grew by a quarter: measured in
bench/stream.py, 15 full collections of 180-200 ms of CPU each, three of them
within two seconds of the latency phase, which is where its p99 of 250-990 ms
came from. Almost nothing was ever found (0-60 objects per collection).

`HeapKeeper.settle` collects once and then freezes what survived
(``gc.freeze``): frozen objects are never walked again, so the collections the
worker still makes only see what was allocated since. A frozen object that later
becomes cyclic garbage is not reclaimed until the next settle, which unfreezes
everything first; the worker settles after each (re)assignment of partitions,
when it has just dropped the previous ones' state, and every ``interval_s``.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["HeapKeeper"]

log = logging.getLogger(__name__)


@dataclass
class HeapKeeper:
    """Settles the heap when asked and every ``interval_s`` (0: never freezes)."""

    interval_s: float
    clock: Callable[[], float] = time.monotonic
    settled_at: float | None = field(default=None, init=False)

    def settle(self) -> float:
        """Collect everything, then freeze the survivors; returns the pause in seconds."""
        if self.interval_s <= 0:
            return 0.0
        started = time.perf_counter()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        pause = time.perf_counter() - started
        self.settled_at = self.clock()
        log.info(
            "heap settled in %.0f ms: %d objects frozen, %d unreachable freed",
            pause * 1000,
            gc.get_freeze_count(),
            found,
        )
        return pause

    def due(self) -> bool:
        """Whether ``interval_s`` has passed since the last settle (or none was made)."""
        if self.interval_s <= 0:
            return False
        return self.settled_at is None or self.clock() - self.settled_at >= self.interval_s
