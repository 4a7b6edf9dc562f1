"""A collector's label reaches the text model in a real worker, once, and outlives a SIGKILL.

One loan, on one partition (so one hub). Its first note is a refusal that the
built-in seed reads as a dispute: ``note_dispute`` opens. A collector labels the
note ``refusal``, and the label is delivered twice. Once the hub's checkpoint in
the ``models`` changelog holds the label, the worker is killed with SIGKILL and
a new one starts on an empty data dir. The same text in a note five weeks later
(past the dispute rule's cooldown) must now open ``note_refusal`` and not
``note_dispute``, with a model version that counts exactly one learned label:
the label reached the model, was learned once, and came back from the
checkpoint.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from test_worker_judges import START, _disbursed
from test_worker_models import _checkpoints

from rules import CollectionNote, NoteLabelled
from streams.simulate.notes import REFUSAL

LOAN = "L-labels-1"
MISREAD = REFUSAL[0]
"""A simulator's refusal note that mentions the fees: the seed reads it as a dispute."""
_ENVELOPE: dict[str, Any] = {
    "loan_id": LOAN,
    "borrower_id": f"bw-{LOAN}",  # as test_worker_judges' disbursement has it
    "source": "test",
    "schema_version": 1,
}


def _note(event_id: str, days: int) -> CollectionNote:
    return CollectionNote(
        **_ENVELOPE,
        event_id=event_id,
        event_time=START + timedelta(days=days),
        text=MISREAD,
        author_team="collections-m1",
    )


def _opened(collector: Any, topic: str, rule_id: str, event_id: str) -> list[dict[str, Any]]:
    return [
        w
        for w in collector.seen[topic]
        if w.get("rule_id") == rule_id and w.get("event_id") == event_id and w["status"] == "open"
    ]


def test_a_label_reaches_the_text_model_once_and_survives_a_sigkill(harness, tmp_path) -> None:
    first_note, second_note = _note("note-1", 38), _note("note-2", 74)
    label = NoteLabelled(
        **_ENVELOPE,
        event_id="label-1",
        event_time=first_note.event_time + timedelta(days=3),
        note_event_id=first_note.event_id,
        intent="refusal",
        text=MISREAD,
        labelled_by="collections-qa",
    )
    models = {
        "LOANWATCH_WORKER__MODELS": "true",
        "LOANWATCH_WORKER__MODEL_CHECKPOINT_STEPS": "1",
    }
    warnings = harness.local.topics.warnings

    harness.start("first", tmp_path / "data-first", **models)
    collector = harness.collector()
    harness.produce([_disbursed(LOAN), first_note, label, label])  # the label delivered twice
    harness.wait(
        "note_dispute on the first note (the seed's misreading)",
        lambda c: _opened(c, warnings, "note_dispute", "note-1"),
        collector,
        alive=("first",),
    )
    harness.wait_committed(4, alive=("first",))
    deadline = time.monotonic() + 60
    learned: list[int] = []
    while time.monotonic() < deadline:
        learned = [hub.intent_learned for hub in _checkpoints(harness).values()]
        if learned and max(learned) >= 1:
            break
    assert learned and max(learned) == 1, f"checkpointed labels {learned}\n{harness.logs()}"
    assert _opened(collector, warnings, "note_dispute", "note-1")[0]["model_version"].endswith(
        "/intent.0"
    )

    harness.kill9("first")
    harness.start("second", tmp_path / "data-second", **models)
    harness.produce([second_note])
    harness.wait(
        "note_refusal on the second note",
        lambda c: _opened(c, warnings, "note_refusal", "note-2"),
        collector,
        timeout_s=150,
        alive=("second",),
    )
    collector.drain(1)

    assert _opened(collector, warnings, "note_dispute", "note-2") == []
    (refusal,) = {
        w["warning_id"]: w for w in _opened(collector, warnings, "note_refusal", "note-2")
    }.values()
    assert refusal["model_version"].endswith("/intent.1"), refusal["model_version"]
    assert collector.seen[harness.local.topics.dlq] == [], harness.logs()
