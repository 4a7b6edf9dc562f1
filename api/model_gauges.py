"""The online models' latest figures as Prometheus gauges on ``GET /metrics``.

The worker publishes each partition hub's figures at every checkpoint and the Redis
sink keeps the latest per model and partition (docs/redis.md, "Model metrics"); this
collector reads that one hash at each scrape through `sinks.redis.latest_metrics`,
so a Grafana board can watch the PD's AUC and the intent model's accuracy next to
the API's own figures. A figure not defined yet (null) is left out, not shown as 0.
A Redis that does not answer makes ``loanwatch_model_metrics_up`` 0, not a failed
scrape.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily

from api.published import Published
from config.outage import redis_errors
from sinks.redis.lookup import latest_metrics

__all__ = ["FIGURES", "ModelGauges"]

FIGURES = ("n", "roc_auc", "log_loss", "brier", "precision", "threshold", "alerts", "accuracy")
_LABELS = ("model", "partition", "model_version")


_Found = dict[str, dict[int, dict[str, Any]]]


class ModelGauges(Published[_Found]):
    """A collector over ``client`` (sync redis-py) and the key ``prefix``."""

    up_name = "loanwatch_model_metrics_up"
    up_help = "1 when the models' latest figures could be read."
    errors = redis_errors()

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def read(self) -> _Found:
        return latest_metrics(self.client, self.prefix)

    def families(self, found: _Found) -> Iterator[GaugeMetricFamily]:
        families = {
            name: GaugeMetricFamily(
                f"loanwatch_model_{name}",
                f"The model's latest {name} per partition (docs/models.md).",
                labels=_LABELS,
            )
            for name in FIGURES
        }
        for model, partitions in found.items():
            for partition, record in partitions.items():
                labels = [model, str(partition), str(record.get("model_version", ""))]
                for name, family in families.items():
                    value = record.get(name)
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        family.add_metric(labels, float(value))
        yield from (family for family in families.values() if family.samples)
