"""The models in the worker, without Kafka: per-partition hubs, checkpoints, drift warnings,
and the metrics each checkpoint queues for the model metrics topic."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import orjson

from config import Settings
from models.drift import Drift
from models.hub import HubConfig, ModelHub
from rules.core import Engine
from rules.pack import default_pack
from rules.policy import load_policy
from rules.workflows import load_workflow_policy
from streams.model_metrics import ModelMetrics, partition_metrics
from streams.outputs import metrics_outputs
from streams.scoring import CHUNK_BYTES, PartitionModels, drift_warning
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


_VERSION = re.compile(r"^pd-\w+\.(\d+)/intent\.(\d+)$")


def test_each_checkpoint_queues_both_models_figures_and_a_drain_takes_them_once() -> None:
    models = PartitionModels({}, HubConfig(), checkpoint_steps=40)
    _judge(models)
    steps = len(list(LoanBook(BookSpec(12, 5, 3))))  # every event is one step
    drained = models.drain_metrics()
    assert models.drain_metrics() == []
    assert [m.model for m in drained] == ["pd", "pd_current", "intent"] * (steps // 40)
    pd = [m for m in drained if m.model == "pd"]
    # Each record counts what the hub had learned when it was stored: n only grows,
    # and it is the number of labels the record's model version names.
    assert [m.n for m in pd] == sorted(m.n for m in pd) and pd[-1].n > 0
    for m in drained:
        match = _VERSION.match(m.model_version)
        assert match, m.model_version
        if m.model == "pd_current":  # the labels of snapshots taken while current: some
            assert m.n <= int(match.group(1))
        else:
            assert m.n == int(match.group(1) if m.model == "pd" else match.group(2))
        assert m.partition == 0 and m.produced_at == NOW
    last = pd[-1]
    assert last.threshold == 0.35 and last.roc_auc is not None and 0.0 <= last.roc_auc <= 1.0
    assert last.brier is not None and 0.0 <= last.brier <= 1.0
    assert last.accuracy is None


def test_an_explicit_checkpoint_reports_the_hub_it_stored() -> None:
    table: dict[bytes, bytes] = {}
    models = PartitionModels(table, HubConfig(), checkpoint_steps=10_000)
    _judge(models)
    assert models.drain_metrics() == []  # no checkpoint was due
    models.checkpoint(0, NOW)
    pd, pd_current, intent = models.drain_metrics()
    stored = PartitionModels(table, HubConfig(), checkpoint_steps=10).slot(0).hub
    assert pd.model_version == pd_current.model_version == intent.model_version
    assert intent.model_version == stored.model_version
    assert pd.n == stored.pd_learned > 0


def test_undefined_metrics_are_null_not_zero() -> None:
    hub = ModelHub()
    hub.pd_metrics.update(False, 0.1)  # one label, no score at or over the threshold
    pd, _, intent = partition_metrics(hub, 7, NOW)
    assert pd.n == 1 and pd.brier is not None and math.isclose(pd.brier, 0.01)
    assert pd.alerts == 0 and pd.precision is None
    assert intent.n == 0 and intent.accuracy is None and intent.roc_auc is None
    hub.learn_intent("下周五还", "promise_to_pay", now=NOW)
    assert partition_metrics(hub, 7, NOW)[2].accuracy in (0.0, 1.0)


def test_metrics_messages_are_keyed_by_model_and_partition_and_carry_every_field() -> None:
    settings = Settings(topics={"model_metrics": "m.topic"})
    record = ModelMetrics("pd", 2, "pd-logistic.3/intent.0", 3, NOW, roc_auc=0.5, alerts=1)
    (out,) = metrics_outputs([record], settings)
    assert (out.topic, out.key) == ("m.topic", b"pd/p2")
    assert orjson.loads(out.value) == {
        "schema_version": 1,
        "model": "pd",
        "partition": 2,
        "model_version": "pd-logistic.3/intent.0",
        "n": 3,
        "roc_auc": 0.5,
        "log_loss": None,
        "brier": None,
        "precision": None,
        "threshold": None,
        "alerts": 1,
        "accuracy": None,
        "produced_at": "2026-06-01T09:00:00+00:00",
    }


# -- chunked checkpoints ------------------------------------------------------------------


class _Recording(dict[bytes, bytes]):
    """A table that remembers the order of its writes and deletions."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, bytes]] = []

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.log.append(("set", key))
        super().__setitem__(key, value)

    def __delitem__(self, key: bytes) -> None:
        self.log.append(("del", key))
        super().__delitem__(key)


def _fingerprint(hub: ModelHub) -> tuple[str, int, float]:
    """What a restored hub must repeat: its version, labels learned and a prediction."""
    x = {"dpd": 12.0, "max_dpd": 40.0, "on_time_streak": 1.0, "outstanding_share": 0.7}
    return hub.model_version, hub.pd_learned, hub.pd.predict_one(x)


def _learned(table: dict[bytes, bytes], chunk_bytes: int, **config: object) -> PartitionModels:
    models = PartitionModels(
        table, HubConfig(**config), checkpoint_steps=10_000, chunk_bytes=chunk_bytes
    )
    _judge(models)
    return models


def test_a_checkpoint_larger_than_a_chunk_is_split_and_restored_whole() -> None:
    table = _Recording()
    models = _learned(table, chunk_bytes=8_192)
    models.checkpoint(0)
    chunks = [key for key in table if key.startswith(b"p0.")]
    assert len(chunks) > 3 and all(len(table[key]) <= 8_192 for key in chunks)
    assert table.log[-1] == ("set", PartitionModels.key(0))  # the manifest goes last
    assert len(table[PartitionModels.key(0)]) < 100
    restored = PartitionModels(table, HubConfig(), checkpoint_steps=10).slot(0).hub
    assert _fingerprint(restored) == _fingerprint(models.slot(0).hub)


def test_a_crash_before_the_manifest_restores_the_previous_complete_checkpoint() -> None:
    table = _Recording()
    models = _learned(table, chunk_bytes=8_192)
    models.checkpoint(0)
    first = _fingerprint(models.slot(0).hub)
    manifest = table[PartitionModels.key(0)]
    _judge(models, loans=4)  # learns more, then a checkpoint is cut before its manifest
    models.checkpoint(0)
    assert _fingerprint(models.slot(0).hub) != first
    table[PartitionModels.key(0)] = manifest
    restored = PartitionModels(table, HubConfig(), checkpoint_steps=10).slot(0).hub
    assert _fingerprint(restored) == first


def test_alternate_sets_drop_chunks_a_shorter_checkpoint_no_longer_needs() -> None:
    table = _Recording()
    models = _learned(table, chunk_bytes=8_192)
    models.checkpoint(0)  # set a
    models.checkpoint(0)  # set b
    many = {key for key in table if key.startswith(b"p0.a.")}
    models._chunk_bytes = 1 << 20  # the same hub now fits one chunk
    models.checkpoint(0)  # set a again
    assert {key for key in table if key.startswith(b"p0.a.")} == {b"p0.a.0"}
    assert len(many) > 1 and ("del", sorted(many)[-1]) in table.log
    restored = PartitionModels(table, HubConfig(), checkpoint_steps=10).slot(0).hub
    assert _fingerprint(restored) == _fingerprint(models.slot(0).hub)


def test_a_corrupt_or_missing_chunk_starts_a_fresh_hub() -> None:
    table = _Recording()
    _learned(table, chunk_bytes=8_192).checkpoint(0)
    table[b"p0.a.1"] = b"x" + table[b"p0.a.1"][1:]
    assert PartitionModels(table, HubConfig(), checkpoint_steps=10).slot(0).hub.pd_learned == 0
    del table[b"p0.a.1"]
    assert PartitionModels(table, HubConfig(), checkpoint_steps=10).slot(0).hub.pd_learned == 0


def test_a_checkpoint_from_before_chunking_is_still_read() -> None:
    models = _learned({}, chunk_bytes=8_192)
    whole = models.slot(0).to_bytes()
    table = {PartitionModels.key(0): whole}
    restored = PartitionModels(table, HubConfig(), checkpoint_steps=10).slot(0).hub
    assert restored.pd_learned == models.slot(0).hub.pd_learned > 0


def test_a_checkpoint_of_another_pd_candidate_gives_way_to_the_configured_one() -> None:
    table = _Recording()
    _learned(table, chunk_bytes=CHUNK_BYTES).checkpoint(0)
    hub = PartitionModels(table, HubConfig(pd_candidate="ensemble"), checkpoint_steps=10).slot(0)
    assert hub.hub.pd.candidate == "ensemble" and hub.hub.pd_learned == 0


def test_the_current_loans_figure_counts_only_snapshots_scored_at_dpd_0() -> None:
    hub = ModelHub()
    hub.learn_pd([({"dpd": 0.0}, False), ({"dpd": 12.0}, True), ({"dpd": 0.0}, True)], now=NOW)
    pd, current, _ = partition_metrics(hub, 7, NOW)
    assert (pd.n, current.n) == (3, 2)
    assert current.key == "pd_current/p7"
