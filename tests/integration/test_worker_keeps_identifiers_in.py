"""No borrower identifier leaves the stream in clear, even when a producer puts one in.

Collectors write what borrowers tell them, and a note can hold a phone number,
an ID number, an e-mail address, a bank card or a name. The worker reads the
text (the intent model, the note rules) but must write none of it: every
output topic the worker writes (warnings, transitions, actions, model metrics)
and its own log are swept, byte by byte, for the injected values and for
anything shaped like one. Nothing here is refused, so the dead-letter topic,
which keeps a refused message's original bytes by design, must stay empty.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from rules import CollectionNote, LoanDisbursed

SECRETS = {
    "phone": "13812345678",
    "id_number": "11010119900307771X",
    "e-mail": "zhang.wei.1990@example.com",
    "bank card": "6222021234567890123",
    "name": "张伟",
}
NOTES = (
    "Borrower {name} says the new number is {phone}, ID {id_number}; cannot pay this month.",
    "Lost job. Write to {e-mail}; will pay from card {bank card} next week.",
    "Refuses to pay, says the fees are wrong. {name}, {phone}.",
)
SHAPES = {
    "phone": re.compile(rb"(?<![\d.])1[3-9]\d{9}(?![\d.])"),
    "id_number": re.compile(rb"(?<![\d.])\d{17}[\dXx](?![\d.])"),
    "e-mail": re.compile(rb"[\w.+-]+@[\w-]+\.[A-Za-z]{2,}"),
}


def _notes(events: list[Any], every: int = 3) -> list[CollectionNote]:
    """A note full of identifiers on every ``every``-th loan, 40 days after it was paid out."""
    disbursed = [e for e in events if isinstance(e, LoanDisbursed)][::every]
    return [
        CollectionNote(
            event_id=f"pii-note-{n}",
            loan_id=loan.loan_id,
            borrower_id=loan.borrower_id,
            event_time=loan.event_time + timedelta(days=40, hours=3),
            source="crm",
            schema_version=1,
            text=NOTES[n % len(NOTES)].format_map(SECRETS),
            author_team="collections-m1",
        )
        for n, loan in enumerate(disbursed)
    ]


def _leaks(name: str, blobs: list[bytes]) -> list[str]:
    found = []
    for blob in blobs:
        for what, value in SECRETS.items():
            if value.encode() in blob:
                found.append(f"{name}: {what} {value!r} in {blob[:160]!r}")
        for what, shape in SHAPES.items():
            for match in shape.findall(blob):
                found.append(f"{name}: {what}-shaped {match!r} in {blob[:160]!r}")
    return found


def test_identifiers_in_collection_notes_reach_no_output_and_no_log(harness, tmp_path) -> None:
    book = harness.book(loans=20, months=4, seed=7)
    notes = _notes(book)
    events = sorted([*book, *notes], key=lambda e: e.event_time)
    topics = harness.local.topics
    outputs = [topics.warnings, topics.transitions, topics.actions, topics.model_metrics]

    harness.start("worker", tmp_path / "data", LOANWATCH_WORKER__MODELS="true")
    collector = harness.collector(topics=[*outputs, topics.dlq])
    harness.produce(events)
    harness.wait_committed(len(events), timeout_s=150, alive=("worker",))
    collector.drain(3.0)  # the outputs of the last events, sent before their offsets

    assert len(notes) >= 6
    assert collector.raw[topics.dlq] == [], harness.logs()
    assert sum(len(collector.raw[t]) for t in outputs) > len(notes)
    leaks = [leak for t in outputs for leak in _leaks(t, collector.raw[t])]
    log = harness.log_text("worker").encode()
    leaks += _leaks("worker.log", [log])
    assert leaks == [], "\n".join(leaks[:20])


def test_the_sweep_finds_each_kind_of_identifier_it_looks_for() -> None:
    blobs = [note.format_map(SECRETS).encode() for note in NOTES]

    found = " ".join(_leaks("probe", blobs))

    for what in SECRETS:
        assert f"{what} " in found, what
    assert _leaks("probe", [b'{"dpd": 31, "amount": 120000, "pd": 0.1234567890123}']) == []
