"""The API's Prometheus figures, in a registry of its own (tests build several apps).

Request counts and latency by endpoint template and status, and the audit rows
dropped while ClickHouse was away. ``GET /metrics`` renders them in the text format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["ApiMetrics"]


@dataclass
class ApiMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "loanwatch_api_requests",
            "Requests answered, by method, endpoint template, status and result.",
            ("method", "endpoint", "status", "result"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "loanwatch_api_request_seconds",
            "Seconds from a request's arrival to its answer, by endpoint template.",
            ("method", "endpoint"),
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.audit_dropped = Counter(
            "loanwatch_api_audit_dropped",
            "Audit rows dropped because ClickHouse was away longer than the buffer lasts.",
            registry=self.registry,
        )

    def observe(self, method: str, endpoint: str, status: int, result: str, seconds: float) -> None:
        self.requests.labels(method, endpoint, str(status), result).inc()
        self.latency.labels(method, endpoint).observe(seconds)

    def text(self) -> bytes:
        return generate_latest(self.registry)
