"""A simulated book, judged offline and stored in ClickHouse by the real writer.

The Grafana panel tests (test_grafana_panels.py) need a database that looks like
production's: the simulator's loans (every profile), the engine's warnings and
transitions for them, and some model metrics. The events go through the engine
(`streams.backtest.Replay`, the event clock's ticks included), every output is
serialized as the worker serializes it (`streams.outputs`), produced to topics of
the test's own, and drained into the database by a `ClickHouseWriter`, so the
rows are exactly what the sink would store. The same outputs are kept in Python
(`SeededBook`), which is what the tests' independent answers are computed from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from config import Settings
from rules import encode_event
from rules.core import Tick
from sinks.clickhouse import ClickHouseWriter, migrate
from streams.model_metrics import ModelMetrics
from streams.outputs import metrics_outputs, outputs_of

__all__ = ["Loan", "SeededBook", "seed_book"]


@dataclass(frozen=True, slots=True)
class Loan:
    loan_id: str
    product: str
    principal: int  # minor units
    disbursed_on: date


@dataclass
class SeededBook:
    """What was stored, as Python values: the loans and the engine's outputs."""

    loans: dict[str, Loan] = field(default_factory=dict)
    transitions: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[ModelMetrics] = field(default_factory=list)

    @property
    def last_day(self) -> date:
        """The data's last day: the latest transition or disbursement."""
        days = [date.fromisoformat(t["on"]) for t in self.transitions]
        return max(days + [loan.disbursed_on for loan in self.loans.values()])

    def label_on(self, loan_id: str, kind: str, day: date) -> str | None:
        """A loan's bucket (``kind="bucket"``) or class (``"klass"``) on ``day``: its
        disbursement's label (``M0`` / ``normal``) from its payout, then each change's
        ``to`` from its day; None before the payout."""
        loan = self.loans[loan_id]
        if loan.disbursed_on > day:
            return None
        label = "M0" if kind == "bucket" else "normal"
        for t in self.transitions:  # in the order the engine made them
            if t["loan_id"] == loan_id and t["kind"] == kind and t["on"] <= day.isoformat():
                label = t["to"]
        return label


def seed_book(
    settings: Settings, admin: AdminClient, prefix: str, *, loans: int, months: int, seed: int
) -> SeededBook:
    """Simulate, judge and store a book in ``settings.clickhouse.database``; return it.

    ``prefix`` names the test's own topics (deleted again before returning).
    """
    from streams.app import build_engine
    from streams.backtest import CoreStepper, Replay
    from streams.simulate.book import BookSpec, LoanBook

    events = list(LoanBook(BookSpec(loans, months, seed)))
    names = {kind: f"{prefix}.{kind}" for kind in ("events", "warnings", "transitions", "metrics")}
    local = settings.model_copy(
        update={
            "topics": settings.topics.model_copy(
                update={
                    "warnings": names["warnings"],
                    "transitions": names["transitions"],
                    "model_metrics": names["metrics"],
                }
            )
        }
    )
    book = SeededBook()
    messages: list[tuple[str, bytes, bytes]] = []
    engine = build_engine(local)
    replay = Replay(CoreStepper(engine), engine, now=datetime.now(UTC))
    for item, result in replay.steps(events):
        if not isinstance(item, Tick):
            messages.append((names["events"], item.loan_id.encode(), encode_event(item)))
            if item.type == "loan_disbursed":
                book.loans[item.loan_id] = Loan(
                    item.loan_id,
                    item.product,
                    item.principal,
                    item.event_time.date(),  # the event's own offset: the lender's day
                )
        for out in outputs_of(result, local):
            if out.topic != local.topics.actions:
                messages.append((out.topic, out.key, out.value))
        book.transitions.extend(t.to_dict() for t in result.transitions)
        book.warnings.extend(w.to_dict() for w in result.warnings)
    book.metrics = _metrics(book.last_day)
    messages += [(o.topic, o.key, o.value) for o in metrics_outputs(book.metrics, local)]

    futures = admin.create_topics([NewTopic(n, 1, 1) for n in names.values()])
    for future in futures.values():
        future.result(timeout=30)
    try:
        _store(local, names, messages)
    finally:
        for future in admin.delete_topics(list(names.values())).values():
            future.result(timeout=30)
    return book


def _metrics(last_day: date) -> list[ModelMetrics]:
    """A PD hub per partition checkpointing twice a day over the book's last 10 days,
    its AUC rising as it learns; the first day has too few labels for a figure."""
    out = []
    for days_back in range(10, 0, -1):
        day = last_day - timedelta(days=days_back - 1)
        for hour in (8, 20):
            for partition in (0, 1):
                n = (11 - days_back) * 40 + hour + partition
                at = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
                auc = None if days_back == 10 else round(0.55 + n / 2000 + partition / 100, 4)
                out.append(
                    ModelMetrics("pd", partition, f"pd-logistic.{n}/intent.0", n, at, roc_auc=auc)
                )
    return out


def _store(settings: Settings, topics: dict[str, str], messages: list[Any]) -> None:
    producer = Producer(settings.kafka.producer_config())
    for topic, key, value in messages:
        producer.produce(topic, key=key, value=value)
        producer.poll(0)
    assert producer.flush(30) == 0
    migrate(settings)
    writer = ClickHouseWriter(
        settings,
        topics={
            topics["events"]: "loans",
            topics["warnings"]: "warnings",
            topics["transitions"]: "transitions",
            topics["metrics"]: "model_metrics",
        },
        group_id=f"{topics['events']}-writer",
        max_wait_s=0.5,
    )
    consumed, deadline = 0, time.monotonic() + 120
    try:
        while consumed < len(messages):
            assert time.monotonic() < deadline, f"the writer took {consumed} of {len(messages)}"
            result = writer.drain_once()
            assert result.committed or not result.consumed, result
            consumed += result.consumed
    finally:
        writer.close()
