"""The base of the ``/metrics`` collectors that show figures other processes publish.

The worker and the sinks put their figures in Redis and Kafka; the API reads them at
each scrape. A store that does not answer must not fail the scrape (the API's own
figures would go with it), so each collector reports ``loanwatch_<name>_up`` 0 and
nothing else instead, and 1 with its figures when the read worked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Generic, TypeVar

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["Published"]

T = TypeVar("T")


class Published(Collector, Generic[T]):
    """`read` the published figures, then turn them into `families`."""

    up_name = ""
    up_help = ""
    errors: tuple[type[BaseException], ...] = (Exception,)
    """What a failed read raises: these make ``up`` 0; anything else is a bug."""

    def describe(self) -> list[Any]:
        return []  # what there is depends on the store; nothing to read at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(self.up_name, self.up_help)
        try:
            found = self.read()
        except self.errors:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from self.families(found)

    def read(self) -> T:
        raise NotImplementedError

    def families(self, found: T) -> Iterable[GaugeMetricFamily]:
        raise NotImplementedError
