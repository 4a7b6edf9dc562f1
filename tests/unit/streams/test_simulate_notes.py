"""Collectors' notes in the simulated book, and the labels they give them days later."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from rules import NOTE_INTENTS, CollectionNote, Event, NoteLabelled, encode_event
from streams.simulate import BookSpec, LoanBook
from streams.simulate.loan import LoanSim
from streams.simulate.notes import INTENT_OF
from streams.simulate.timeline import LOCAL_TZ

SPEC = BookSpec(loans=200, months=8, seed=3)


@pytest.fixture(scope="module")
def book() -> list[Event]:
    return list(LoanBook(SPEC))


def _notes(events: list[Event]) -> dict[str, CollectionNote]:
    return {e.event_id: e for e in events if isinstance(e, CollectionNote)}


def _labels(events: list[Event]) -> list[NoteLabelled]:
    return [e for e in events if isinstance(e, NoteLabelled)]


def test_every_template_has_an_intent_the_text_model_knows() -> None:
    assert set(INTENT_OF.values()) <= set(NOTE_INTENTS)


def test_every_note_the_book_sends_is_a_template_with_a_known_intent(book: list[Event]) -> None:
    texts = {note.text for note in _notes(book).values()}
    assert texts and texts <= set(INTENT_OF)


def test_a_label_follows_its_note_days_later_with_the_templates_true_intent(
    book: list[Event],
) -> None:
    notes = _notes(book)
    position = {event.event_id: n for n, event in enumerate(book)}
    labels = _labels(book)
    assert labels
    for label in labels:
        note = notes[label.note_event_id]
        assert label.event_id == f"{note.event_id}-label"
        assert (label.loan_id, label.borrower_id, label.text) == (
            note.loan_id,
            note.borrower_id,
            note.text,
        )
        assert label.intent == INTENT_OF[note.text]
        assert label.labelled_by == note.author_team
        assert position[label.event_id] > position[note.event_id]
        days = (
            label.event_time.astimezone(LOCAL_TZ).date()
            - note.event_time.astimezone(LOCAL_TZ).date()
        )
        assert timedelta(days=2) <= days <= timedelta(days=5)
    assert len({label.note_event_id for label in labels}) == len(labels)  # once per note


def test_about_half_the_notes_are_labelled_and_every_intent_occurs(book: list[Event]) -> None:
    labels = _labels(book)
    share = len(labels) / len(_notes(book))
    assert 0.35 < share < 0.65, share
    intents = Counter(label.intent for label in labels)
    assert set(intents) == set(NOTE_INTENTS) - {"dispute"}, intents  # the book holds no dispute


def test_labels_leave_the_rest_of_the_stream_byte_for_byte_as_it_was(
    book: list[Event], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(LoanSim, "labelled", 0.0)
    unlabelled = [encode_event(e) for e in LoanBook(SPEC)]

    assert [encode_event(e) for e in book if e.type != "note_labelled"] == unlabelled
