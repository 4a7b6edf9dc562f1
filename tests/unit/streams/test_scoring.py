"""The models in the worker, without Kafka: per-partition hubs, checkpoints, drift warnings."""

from __future__ import annotations

from datetime import UTC, datetime

from models.drift import Drift
from models.hub import HubConfig
from rules.core import Engine
from rules.pack import default_pack
from rules.policy import load_policy
from rules.workflows import load_workflow_policy
from streams.scoring import PartitionModels, drift_warning
from streams.simulate.book import BookSpec, LoanBook
from streams.stored import frame, unframe

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)


def _engine() -> Engine:
    return Engine(default_pack(), load_policy(None), load_workflow_policy(None))


def _judge(models: PartitionModels, loans: int = 12, months: int = 5) -> dict[str, object]:
    engine = _engine()
    records: dict[str, object] = {}
    labels: dict[str, object] = {}
    for event in LoanBook(BookSpec(loans, months, 3)):
        pending = labels.get(event.loan_id) or models.new_labels()
        scorer = models.scorer(0, pending, NOW)
        record, result = engine.step(records.get(event.loan_id), event, NOW, scorer=scorer)
        assert not result.rejected
        records[event.loan_id], labels[event.loan_id] = record, pending
        models.after_step(0, record.loan, pending, NOW, engine.pack.digest)
    return labels


def test_checkpoint_is_written_every_n_steps_and_restores_the_same_hub() -> None:
    table: dict[bytes, bytes] = {}
    models = PartitionModels(table, HubConfig(), checkpoint_steps=40)
    _judge(models)
    assert PartitionModels.key(0) in table
    models.checkpoint(0)
    restored = PartitionModels(table, HubConfig(), checkpoint_steps=40).slot(0).hub
    live = models.slot(0).hub
    assert restored.model_version == live.model_version
    assert restored.pd_learned == live.pd_learned > 0


def test_unreadable_checkpoint_starts_a_fresh_hub_instead_of_crashing() -> None:
    table = {PartitionModels.key(2): b"\x00\x00\x00\x02{}garbage"}
    hub = PartitionModels(table, HubConfig(), checkpoint_steps=10).slot(2).hub
    assert hub.pd_learned == 0


def test_drift_warning_names_the_model_goes_to_team_models_and_has_a_stable_id() -> None:
    drift = Drift("pd", "log_loss", 0.21, 0.48, NOW)
    first = drift_warning(drift, 3, "digest", NOW)
    again = drift_warning(drift, 3, "digest", NOW.replace(hour=23))
    assert first.warning_id == again.warning_id
    assert first.loan_id == "model:pd/p3" and first.owner_team == "models"
    assert "rose from 0.21 to 0.48" in first.message
    assert {r.name: r.value for r in first.reasons}["drift.after"] == 0.48


def test_one_drift_warning_per_metric_per_day_also_across_a_checkpoint() -> None:
    table: dict[bytes, bytes] = {}
    models = PartitionModels(table, HubConfig(), checkpoint_steps=1000)
    record, _ = _engine().step(None, next(iter(LoanBook(BookSpec(1, 1, 3)))), NOW)
    assert record is not None

    def after(drifts: list[Drift]) -> list[str]:
        slot = models.slot(0)
        slot.hub.drift.pending.extend(drifts)
        out = models.after_step(0, record.loan, models.new_labels(), NOW, "digest")
        return [w.episode_key for w in out]

    morning = Drift("pd", "log_loss", 0.2, 0.5, NOW)
    assert after([morning]) == ["log_loss"]
    assert after([morning]) == []  # the same metric again that day: quiet
    models.checkpoint(0)
    models.forget()  # as after a restart: the hub comes back from the table
    assert after([morning]) == []
    tomorrow = Drift("pd", "log_loss", 0.2, 0.6, NOW.replace(day=NOW.day + 1))
    assert after([tomorrow, Drift("pd", "feature.dpd", 1.0, 9.0, NOW)]) == [
        "log_loss",
        "feature.dpd",
    ]


def test_closed_label_store_is_kept_in_the_loan_row() -> None:
    models = PartitionModels({}, HubConfig(), checkpoint_steps=1000)
    pending = models.new_labels()
    pending.add(100, {"loan.dpd": 0.0})
    pending.resolve(150, bad=True)
    assert pending.closed and len(pending) == 0
    row = unframe(frame(1, None, b"record", pending.to_bytes()))
    assert type(pending).from_bytes(row.labels).closed


def test_collection_note_on_a_real_loan_is_scored_for_intent() -> None:
    from rules.events import CollectionNote

    engine = _engine()
    models = PartitionModels({}, HubConfig(), checkpoint_steps=1000)
    book = list(LoanBook(BookSpec(1, 2, 3)))
    record = None
    pending = models.new_labels()
    for event in book[:3]:
        record, _ = engine.step(record, event, NOW, scorer=models.scorer(0, pending, NOW))
    note = CollectionNote(
        event_id="note-1",
        loan_id=book[0].loan_id,
        borrower_id=book[0].borrower_id,
        event_time=book[2].event_time,
        source="test",
        schema_version=1,
        text="Borrower lost his job, asks for more time",
        author_team="collections",
    )
    seen = []

    def scorer(loan, event):
        card = models.scorer(0, pending, NOW)(loan, event)
        seen.append(card)
        return card

    record, result = engine.step(record, note, NOW, scorer=scorer)
    assert not result.rejected
    intents = {k: v for k, v in seen[-1].values.items() if k.startswith("intent_")}
    assert sorted(intents.values())[-1] == 1.0 and sum(intents.values()) == 1.0  # one label


def test_pd_is_withheld_from_rules_until_the_hub_has_learned_enough() -> None:
    engine = _engine()
    cold = PartitionModels({}, HubConfig(), checkpoint_steps=1000, warmup_labels=10**6)
    warm = PartitionModels({}, HubConfig(), checkpoint_steps=1000, warmup_labels=0)
    fired: dict[str, int] = {"cold": 0, "warm": 0}
    for name, models in (("cold", cold), ("warm", warm)):
        records: dict[str, object] = {}
        for event in list(LoanBook(BookSpec(20, 2, 3)))[:200]:
            pending = models.new_labels()
            scorer = models.scorer(0, pending, NOW)
            record, result = engine.step(records.get(event.loan_id), event, NOW, scorer=scorer)
            records[event.loan_id] = record
            fired[name] += sum(1 for w in result.warnings if w.rule_id == "high_pd")
            assert all(not w.model_reasons for w in result.warnings if name == "cold")
    # An untrained model scores about 0.5 for everyone: above the pack's 0.35.
    assert fired == {"cold": 0, "warm": fired["warm"]} and fired["warm"] > 0
