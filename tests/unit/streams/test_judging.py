"""One step of one loan as the worker takes it, without Kafka: cache, models, labels, row."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.hub import HubConfig
from models.labels import PendingLabels
from rules import EventDecodeError, encode_event
from rules.core import Engine, Tick
from rules.events import CollectionNote, Event, LoanDisbursed, NoteLabelled
from rules.pack import default_pack
from rules.policy import load_policy
from rules.workflows import load_workflow_policy
from streams.judging import Runtime
from streams.scoring import PartitionModels
from streams.simulate.book import BookSpec, LoanBook
from streams.stored import unframe

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)


def _runtime(models: bool = True, cached: int = 100) -> Runtime:
    engine = Engine(default_pack(), load_policy(None), load_workflow_policy(None))
    rt = Runtime(engine, ZoneInfo("Asia/Shanghai"))
    rt.cache(cached)
    if models:
        rt.models = PartitionModels({}, HubConfig(), checkpoint_steps=1000, warmup_labels=0)
    return rt


def _replay(rt: Runtime, events: list, table: dict[bytes, bytes]) -> list:
    verdicts = []
    for event in events:
        key = event.loan_id.encode()
        verdict = rt.judge(key, table.get(key), 0, event, NOW)
        assert not verdict.result.rejected, verdict.result.rejected
        if verdict.row is not None:
            table[key] = verdict.row
            rt.stored(key, 0, verdict)
        verdicts.append(verdict)
    return verdicts


def test_cached_and_uncached_workers_write_the_same_rows_and_outputs() -> None:
    events = list(LoanBook(BookSpec(8, 4, 5)))
    rows: list[dict[bytes, bytes]] = [{}, {}]
    outs = []
    for table, cached in zip(rows, (0, 100), strict=True):
        verdicts = _replay(_runtime(models=False, cached=cached), events, table)
        outs.append([[w.warning_id for w in v.result.warnings] for v in verdicts])
    assert rows[0] == rows[1]
    assert outs[0] == outs[1]


def test_a_label_store_the_step_left_alone_keeps_its_stored_bytes() -> None:
    rt = _runtime()
    table: dict[bytes, bytes] = {}
    reused = 0
    for event in LoanBook(BookSpec(10, 6, 2)):
        key = event.loan_id.encode()
        stored = table.get(key)
        verdict = rt.judge(key, stored, 0, event, NOW)
        if verdict.row is None:
            continue
        labels = unframe(verdict.row).labels
        # Reused or encoded afresh, the section is always the store's own encoding.
        assert labels == (verdict.labels.to_bytes() if labels else b"")
        reused += bool(stored and labels and labels == unframe(stored).labels)
        table[key] = verdict.row
        rt.stored(key, 0, verdict)
    assert reused > 0


def test_a_step_that_fails_half_way_leaves_no_changed_record_in_the_cache() -> None:
    events = list(LoanBook(BookSpec(1, 3, 5)))
    rt = _runtime(models=False)
    table: dict[bytes, bytes] = {}
    _replay(rt, events[:10], table)
    key = events[10].loan_id.encode()
    before = table[key]
    rt.judge(key, table[key], 0, events[10], NOW)  # judged, but its row never stored
    assert len(rt.records) == 0
    # Judged again from the stored row: the same outputs, not a duplicate.
    again = rt.judge(key, before, 0, events[10], NOW)
    assert not again.result.duplicate and again.row is not None


def test_pending_labels_travel_in_the_row_and_a_closed_store_stays_closed() -> None:
    events = list(LoanBook(BookSpec(30, 8, 2)))
    rt = _runtime()
    table: dict[bytes, bytes] = {}
    _replay(rt, events, table)
    rows = {key: unframe(row) for key, row in table.items()}
    assert any(r.labels for r in rows.values())
    closed = [
        key for key, r in rows.items() if r.labels and PendingLabels.from_bytes(r.labels).closed
    ]
    assert closed, "no loan went bad in this book: pick another seed"
    key = closed[0]
    # A fresh worker (empty cache) reads the row and keeps the store closed.
    fresh = _runtime()
    tick_day = events[-1].event_time.date()
    verdict = fresh.judge(key, table[key], 0, Tick(key.decode(), tick_day), NOW)
    assert verdict.labels is not None and verdict.labels.closed
    # Reopened, the store would have kept this tick's snapshot of a loan already bad
    # and learned it at once as a default: a label leaking into training.
    assert fresh.models is not None and fresh.models.slot(0).hub.pd_learned == 0


_MISREAD = (
    "Reminder call: borrower confirms the installment is overdue; salary came late this month."
)
"""A simulator note the built-in seed reads as a dispute; collectors label it ``other``."""


def _noted_loan() -> tuple[list[Event], CollectionNote]:
    disbursed = next(iter(LoanBook(BookSpec(1, 3, 5))))
    assert isinstance(disbursed, LoanDisbursed)
    envelope = {
        "loan_id": disbursed.loan_id,
        "borrower_id": disbursed.borrower_id,
        "source": "collection-system",
        "schema_version": 1,
    }
    note = CollectionNote(
        **envelope,
        event_id="note-1",
        event_time=disbursed.event_time + timedelta(days=40),
        text=_MISREAD,
        author_team="collections-m1",
    )
    return [disbursed, note], note


def _label(note: CollectionNote, event_id: str, days: int = 3) -> NoteLabelled:
    return NoteLabelled(
        event_id=event_id,
        loan_id=note.loan_id,
        borrower_id=note.borrower_id,
        event_time=note.event_time + timedelta(days=days),
        source="collection-system",
        schema_version=1,
        note_event_id=note.event_id,
        intent="other",
        text=note.text,
        labelled_by="collections-m1",
    )


def _reading(rt: Runtime) -> str:
    assert rt.models is not None
    return rt.models.slot(0).hub.intent.predict_one(_MISREAD, NOW.date()).label


def test_a_note_label_teaches_the_partitions_text_model_once() -> None:
    rt = _runtime()
    table: dict[bytes, bytes] = {}
    events, note = _noted_loan()
    _replay(rt, events, table)
    assert rt.models is not None
    hub = rt.models.slot(0).hub
    assert _reading(rt) == "dispute"  # the seed's misreading

    label = _label(note, "label-1")
    _replay(rt, [label], table)

    assert (hub.intent_learned, _reading(rt)) == (1, "other")
    assert hub.model_version.endswith("/intent.1")
    # Delivered again (at-least-once): the core calls it a duplicate, nothing is learned.
    again = rt.judge(note.loan_id.encode(), table[note.loan_id.encode()], 0, label, NOW)
    assert again.result.duplicate and again.row is None
    assert hub.intent_learned == 1


def test_a_rejected_note_label_teaches_nothing() -> None:
    rt = _runtime()
    events, note = _noted_loan()
    _replay(rt, events[:1], {})
    assert rt.models is not None

    # A label for a loan the worker has never seen is dead-lettered, not learned.
    verdict = rt.judge(
        b"L-unknown",
        None,
        0,
        _label(note, "label-1").model_copy(update={"loan_id": "L-unknown"}),
        NOW,
    )

    assert verdict.result.rejected is not None
    assert rt.models.slot(0).hub.intent_learned == 0


def test_learned_labels_come_back_from_the_checkpoint_after_a_restart() -> None:
    hubs: dict[bytes, bytes] = {}
    rt = _runtime()
    rt.models = PartitionModels(hubs, HubConfig(), checkpoint_steps=1, warmup_labels=0)
    table: dict[bytes, bytes] = {}
    events, note = _noted_loan()
    _replay(rt, [*events, _label(note, "label-1")], table)

    restarted = _runtime()
    restarted.models = PartitionModels(hubs, HubConfig(), checkpoint_steps=1, warmup_labels=0)

    assert restarted.models.slot(0).hub.intent_learned == 1
    assert _reading(restarted) == "other"


def test_admit_refuses_an_event_keyed_other_than_its_loan() -> None:
    rt = _runtime(models=False)
    event = next(iter(LoanBook(BookSpec(1, 1, 3))))
    raw = encode_event(event)

    assert rt.admit(False, event.loan_id.encode(), raw, 1 << 20) == (event.loan_id.encode(), event)
    with pytest.raises(EventDecodeError) as caught:
        rt.admit(False, b"another-loan", raw, 1 << 20)
    assert [e.field for e in caught.value.errors] == ["key"]
    assert rt.counts["events"] == 1  # the refused one is not counted as judged


def test_admit_refuses_a_tick_for_a_day_out_of_range() -> None:
    rt = _runtime(models=False)
    assert rt.admit(True, b"L-1", b"2026-01-05", 1 << 20)[1] == Tick("L-1", date(2026, 1, 5))
    with pytest.raises(EventDecodeError):
        rt.admit(True, b"L-1", b"9999-12-31", 1 << 20)


class _FailsMidway(Engine):
    """An engine with a bug: it changes the record in place, then raises."""

    def step(self, record, item, now, scores=None, scorer=None):  # type: ignore[no-untyped-def]
        super().step(record, item, now, scorer=scorer)
        raise ArithmeticError("midway")


def test_a_step_that_raised_leaves_the_loan_as_stored_and_is_counted() -> None:
    rt = _runtime(models=False)
    events = list(LoanBook(BookSpec(1, 3, 3)))
    table: dict[bytes, bytes] = {}
    _replay(rt, events[:5], table)
    key = events[0].loan_id.encode()
    stored = table[key]
    sound = rt.engine
    rt.engine = _FailsMidway(sound.pack, sound.policy, sound.workflows)

    with pytest.raises(ArithmeticError) as caught:
        rt.judge(key, stored, 0, events[5], NOW)
    error = rt.failed(caught.value, 0, events[5])

    assert str(error) == "$: step failed: ArithmeticError: midway"
    assert (error.event_id, error.loan_id) == (events[5].event_id, events[5].loan_id)
    assert rt.counts["failed_steps"] == 1
    # The next step starts from the stored row, not from the half-changed cached record.
    rt.engine = sound
    assert rt.judge(key, stored, 0, events[5], NOW).row == (
        _runtime(models=False).judge(key, stored, 0, events[5], NOW).row
    )


def test_a_tick_that_raised_is_asked_for_again_the_next_day() -> None:
    rt = _runtime(models=False)
    tick = Tick("L-1", NOW.date())

    rt.failed(RuntimeError("boom"), 2, tick)

    assert rt.index(2).pop_due(NOW.date()) == []
    assert rt.index(2).pop_due(NOW.date() + timedelta(days=1)) == ["L-1"]


def test_the_event_clock_moves_only_forward_and_only_when_asked() -> None:
    rt = _runtime(models=False)
    first, second = list(LoanBook(BookSpec(1, 2, 3)))[:2]

    rt.advance_day(0, second)
    rt.advance_day(0, first)

    assert rt.stream_day == {0: second.event_time.astimezone(rt.zone).date()}
