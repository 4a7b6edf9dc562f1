"""The Redis sink's view on ``GET /metrics``: whether it is whole, and how big.

The Redis sink marks the view it built (``<prefix>view``; gone means Redis lost its
data and the sink rebuilds from the topics, docs/redis.md), ranks every loan with
an open warning in ``top`` and appends each new warning to ``stream:warnings``.
Read at each scrape in one pipeline through the key layout (`sinks.redis.keys`), not
through the sink:

- ``loanwatch_redis_view_present``: 1 while the sink's marker is there;
- ``loanwatch_open_risk_loans``: loans with an open warning (``ZCARD top``);
- ``loanwatch_warnings_stream_entries``: entries of the push stream (capped
  near ``STREAM_MAXLEN``);
- ``loanwatch_redis_view_up``: 0 when Redis did not answer (then nothing else).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily

from api.published import Published
from config.outage import redis_errors
from sinks.redis.keys import RedisKeys

__all__ = ["ViewGauges"]


class ViewGauges(Published[list[int]]):
    """A collector over ``client`` (sync redis-py) and the key ``prefix``."""

    up_name = "loanwatch_redis_view_up"
    up_help = "1 when the Redis view could be read."
    errors = redis_errors()

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.keys = RedisKeys(prefix)

    def read(self) -> list[int]:
        pipe = self.client.pipeline(transaction=False)
        pipe.exists(self.keys.view)
        pipe.zcard(self.keys.top)
        pipe.xlen(self.keys.stream)
        return [int(value) for value in pipe.execute()]

    def families(self, found: list[int]) -> Iterator[GaugeMetricFamily]:
        for (name, text), value in zip(_FIGURES, found, strict=True):
            family = GaugeMetricFamily(f"loanwatch_{name}", text)
            family.add_metric([], value)
            yield family


_FIGURES = (
    ("redis_view_present", "1 while the Redis sink's view marker is there."),
    ("open_risk_loans", "Loans with an open warning (the top-risk set)."),
    ("warnings_stream_entries", "Entries of the warnings push stream."),
)
