"""One loan, one step: what the worker does between reading a table row and writing it.

The Faust agent in `streams.app` only moves bytes: it decodes a message, hands
the loan's stored row to `Runtime.judge`, sends the outputs, writes the new row
and then calls `Runtime.stored`. Everything in between lives here, free of
Kafka, so it is tested directly (`tests/unit/streams/test_judging.py`):

- the decoded record comes from the cache when the row is the one last written
  (`streams.record_cache`), taken out of it while the engine changes it;
- the partition's models score the step and learn its outcome
  (`streams.scoring`), their pending labels travel in the row;
- a collector's label for an earlier note (``note_labelled``) teaches the
  partition's text model, once the core has accepted the event: a redelivered
  label is a duplicate there, so it is never learned twice, and the hub keeps
  what it learned through its checkpoints like any other learning;
- a drift becomes a warning among the step's own;
- the new row is framed with the loan's partition and wake-up day.

Before a step, `Runtime.admit` turns a message into the loan's key and its item
(an event, decoded and checked against its message key, or a tick); after one
that raised, `Runtime.failed` turns the exception into a dead letter's error,
so one message that trips a bug costs that message, never the stream.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from models.labels import PendingLabels
from rules.clock import DueIndex
from rules.core import Engine, LoanRecord, StepResult, Tick
from rules.decode import check_key, decode_event
from rules.events import Event
from rules.exceptions import EventDecodeError, FieldError
from rules.fields import EARLIEST_DAY, LATEST_DAY
from rules.pack import RulePack
from streams.record_cache import RecordCache
from streams.scoring import PartitionModels
from streams.stored import frame, unframe

__all__ = ["Runtime", "Verdict"]

log = logging.getLogger("loanwatch.worker")

_Cached = tuple[LoanRecord, PendingLabels | None]


def _decode_stored(stored: bytes) -> _Cached:
    found = unframe(stored)
    labels = PendingLabels.from_bytes(found.labels) if found.labels else None
    return LoanRecord.from_bytes(found.record), labels


def _labels_bytes(
    labels: PendingLabels | None, before: tuple[int, int, int, bool] | None, stored: bytes | None
) -> bytes:
    """The labels section of the new row: the stored one again when the step left the
    store as it was (most steps), encoded afresh otherwise; none for an empty open store."""
    if labels is None or not (len(labels) or labels.closed):
        return b""
    if stored is not None and before == labels.token():
        return unframe(stored).labels
    return labels.to_bytes()


@dataclass(frozen=True, slots=True)
class Verdict:
    """A judged step: its result and, unless it changed nothing, the loan's new row."""

    result: StepResult
    row: bytes | None = None
    """The framed record to store; ``None`` when the step was rejected or a duplicate."""
    record: LoanRecord | None = None
    labels: PendingLabels | None = None


@dataclass
class Runtime:
    """The worker's mutable, in-memory companions of the table."""

    engine: Engine
    zone: ZoneInfo
    indexes: dict[int, DueIndex] = field(default_factory=dict)
    stream_day: dict[int, date] = field(default_factory=dict)
    indexed: bool = False
    records: RecordCache[_Cached] = field(default_factory=lambda: RecordCache(0, _decode_stored))
    models: PartitionModels | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"events": 0, "ticks": 0, "dead": 0})

    def install(self, pack: RulePack) -> None:
        if pack.digest != self.engine.pack.digest:
            log.info(
                "rule pack installed name=%s version=%s digest=%s",
                pack.name,
                pack.version,
                pack.digest[:12],
            )
            self.engine = self.engine.with_pack(pack)

    def index(self, partition: int) -> DueIndex:
        found = self.indexes.get(partition)
        if found is None:
            found = self.indexes[partition] = DueIndex()
        return found

    def cache(self, capacity: int) -> None:
        self.records = RecordCache(capacity, _decode_stored)

    def judge(
        self,
        key: bytes,
        stored: bytes | None,
        partition: int,
        item: Event | Tick,
        now: datetime,
    ) -> Verdict:
        """Step one loan; the caller sends the outputs, stores ``row``, then calls `stored`."""
        record, labels = self.records.take(key, stored) if stored else (None, None)
        before = labels.token() if labels is not None else None
        scorer = None
        if self.models is not None:
            if labels is None:  # not `or`: an empty, closed label store is falsy
                labels = self.models.new_labels()
            scorer = self.models.scorer(partition, labels, now)
        record, result = self.engine.step(record, item, now, scorer=scorer)
        if result.clamped_wakeup is not None:  # a bug upstream of the clock; see StepResult
            self.counts["clamped_wakeups"] = self.counts.get("clamped_wakeups", 0) + 1
            log.warning("wake-up clamped loan=%s asked=%s", key.decode(), result.clamped_wakeup)
        if record is None or result.rejected or result.duplicate:
            return Verdict(result)
        if self.models is not None and labels is not None:
            event = None if isinstance(item, Tick) else item
            drifts = self.models.after_step(
                partition, record.loan, labels, now, self.engine.pack.digest, event
            )
            if drifts:
                result = replace(result, warnings=result.warnings + tuple(drifts))
        kept = _labels_bytes(labels, before, stored)
        row = frame(partition, result.wakeup, record.to_bytes(), kept)
        return Verdict(result, row, record, labels)

    def admit(
        self, tick: bool, key: bytes | None, value: bytes | None, max_bytes: int
    ) -> tuple[bytes, Event | Tick]:
        """The loan key and the item a message carries; `EventDecodeError` for bad input.

        An event must decode and be keyed by its own ``loan_id`` (`check_key`); a tick
        is the worker's own message, the loan id as key and the day as value.
        """
        if tick:
            day = date.fromisoformat((value or b"").decode())
            if not EARLIEST_DAY <= day <= LATEST_DAY:
                raise EventDecodeError([FieldError("$", f"tick for day {day} is out of range")])
            self.counts["ticks"] += 1
            return key or b"", Tick((key or b"").decode(), day)
        event = decode_event(value or b"", max_bytes=max_bytes)
        check_key(event, key)
        self.counts["events"] += 1
        return key or b"", event

    def refusal(self, result: StepResult, item: Event) -> EventDecodeError:
        """The dead letter's error for an event the core refused (``result.rejected``)."""
        return EventDecodeError(
            [FieldError(result.rejected_field, result.rejected or "refused")],
            event_id=item.event_id,
            loan_id=item.loan_id,
            event_type=item.type,
        )

    def failed(self, exc: Exception, partition: int, item: Event | Tick | None) -> EventDecodeError:
        """Contain an exception raised inside one step: the error its dead letter carries.

        Nothing of the step was stored (the record was taken out of the cache, the
        row not written), so the loan stays as it was before this message. A tick
        that failed is asked for again the next day rather than never: its loan was
        already taken out of the due index. Counted here; the caller's dead-letter
        log line says so (the traceback is logged at debug level).
        """
        self.counts["failed_steps"] = self.counts.get("failed_steps", 0) + 1
        kind = type(exc).__name__
        log.debug("step failure traceback", exc_info=exc)
        if isinstance(item, Tick):
            if item.on < LATEST_DAY:
                self.index(partition).set(item.loan_id, item.on + timedelta(days=1))
            return EventDecodeError(
                [FieldError("$", f"step failed: {kind}: {exc}")], loan_id=item.loan_id
            )
        return EventDecodeError(
            [FieldError("$", f"step failed: {kind}: {exc}")],
            event_id=item.event_id if item is not None else None,
            loan_id=item.loan_id if item is not None else None,
            event_type=item.type if item is not None else None,
        )

    def advance_day(self, partition: int, event: Event) -> None:
        """Under the event clock, the partition's day moves to ``event``'s (never back).

        Called by `streams.worker.Worker.tick_owed` once the ticks the partition
        owed up to that day are judged, and only for an event within the worker's
        clock: one dated far ahead (which the core refuses) or one that fails to
        decode never moves the clock of the other loans on its partition.
        """
        day = event.event_time.astimezone(self.zone).date()
        if day > self.stream_day.get(partition, date.min):
            self.stream_day[partition] = day

    def stored(self, key: bytes, partition: int, verdict: Verdict) -> None:
        """The table now holds ``verdict.row``: cache its record, index its wake-up."""
        if verdict.row is None or verdict.record is None:
            return
        self.records.put(key, verdict.row, (verdict.record, verdict.labels))
        self.index(partition).set(key.decode(), verdict.result.wakeup)
