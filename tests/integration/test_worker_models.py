"""The online models inside a real worker: scores reach the rules, hubs survive a SIGKILL.

A worker with the models on judges a seeded book. Every warning of a rule that
reads ``model.*`` must carry the model version (and reason codes for the PD),
and the hub's checkpoints must appear in the ``models`` table's changelog. The
worker is then killed with SIGKILL and a new one starts on an empty data dir: it
must restore the hub from the changelog, so the next warnings' model versions
count at least the labels the checkpoint had learned (a fresh hub starts at 0).
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from models.hub import HubConfig, ModelHub
from streams.scoring import PartitionModels

_MODEL_SEEN = """
  - id: model_seen
    version: 1
    description: Holds whenever the early-warning PD is known (test only).
    condition: model.pd > 0.0
    severity: info
    message: "PD {model.pd:.2f}"
    owner_team: risk-review
"""

_VERSION = re.compile(r"^pd-(\w+)\.(\d+)/intent\.(\d+)$")


def _changelog(harness) -> dict[bytes, bytes]:
    """The newest value of every key of the ``models`` table, read from its changelog."""
    topic = f"{harness.local.app_id}-models-changelog"
    consumer = Consumer(
        {
            **harness.local.kafka.confluent_config(),
            "group.id": f"test-models-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
        }
    )
    table: dict[bytes, bytes] = {}
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return {}
        consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
        quiet = time.monotonic()
        while time.monotonic() - quiet < 2:
            msg = consumer.poll(0.3)
            if msg is None or msg.error() is not None:
                continue
            quiet = time.monotonic()
            if msg.value():
                table[msg.key() or b""] = msg.value()
            else:
                table.pop(msg.key() or b"", None)
    finally:
        consumer.close()
    return table


def _checkpoints(harness, table: dict[bytes, bytes] | None = None) -> dict[int, ModelHub]:
    """The newest hub checkpoint per partition, read back the way the worker reads its table.

    A checkpoint is a manifest under ``p<n>`` naming chunks under their own keys
    (streams/scoring.py); an unreadable one would come back as a fresh hub (0 labels).
    """
    table = _changelog(harness) if table is None else table
    partitions = [int(key[1:]) for key in table if b"." not in key]
    models = PartitionModels(table, HubConfig(), checkpoint_steps=10)
    return {p: models.slot(p).hub for p in partitions}


def _model_warnings(collector, topic: str) -> list[dict]:
    return [w for w in collector.seen[topic] if w.get("model_version")]


def test_model_scores_reach_rules_and_hubs_come_back_after_sigkill(harness, tmp_path) -> None:
    # Long enough that snapshots of the first part pass their 90-day horizon and are
    # learned before the kill.
    events = harness.book(loans=40, months=8, seed=5)
    split = len(events) * 3 // 5
    later = events[split:]
    # The default pack plus a rule that holds whenever the PD is known, so every warm
    # partition shows a model-read warning whatever the PD's level.
    pack = tmp_path / "pack-with-model-rule.yaml"
    pack.write_text(
        Path(harness.env["LOANWATCH_WORKER__RULES_FILE"]).read_text(encoding="utf-8") + _MODEL_SEEN,
        encoding="utf-8",
    )
    models = {
        "LOANWATCH_WORKER__RULES_FILE": str(pack),
        "LOANWATCH_WORKER__MODELS": "true",
        "LOANWATCH_WORKER__MODEL_CHECKPOINT_STEPS": "50",
        "LOANWATCH_WORKER__MODEL_WARMUP_LABELS": "20",
        # Small chunks, so every checkpoint goes to the changelog in several pieces.
        "LOANWATCH_WORKER__MODEL_CHECKPOINT_CHUNK_BYTES": "16384",
    }
    warnings = harness.local.topics.warnings

    harness.start("first", tmp_path / "data-first", **models)
    collector = harness.collector()
    harness.produce(events[:split])
    harness.wait_committed(split, timeout_s=120, alive=("first",))
    collector.drain(2)
    assert collector.seen[harness.local.topics.dlq] == [], harness.logs()

    table = _changelog(harness)
    checkpoints = _checkpoints(harness, table)
    chunks = [key for key in table if b"." in key]
    assert len(chunks) > len(checkpoints), f"checkpoints were not written in chunks: {chunks}"
    assert checkpoints, f"no model checkpoint in the changelog\n{harness.logs()}"
    learned = {p: hub.pd_learned for p, hub in checkpoints.items()}
    assert sum(learned.values()) > 0, learned
    for hub in checkpoints.values():
        assert ModelHub.from_bytes(hub.to_bytes()).model_version == hub.model_version

    harness.kill9("first")
    collector.drain(1)
    seen_at_kill = len(collector.seen[warnings])
    harness.start("second", tmp_path / "data-second", **models)
    harness.produce(later)

    def judged_later(c) -> bool:
        return any(w.get("model_version") for w in c.seen[warnings][seen_at_kill:])

    harness.wait(
        "a model warning after the restart",
        judged_later,
        collector,
        timeout_s=150,
        alive=("second",),
    )
    harness.wait_committed(len(events), timeout_s=150, alive=("second",))
    collector.drain(2)
    assert collector.seen[harness.local.topics.dlq] == [], harness.logs()

    model_warnings = _model_warnings(collector, warnings)
    assert model_warnings, "no warning read a model score"
    for w in model_warnings:
        match = _VERSION.match(w["model_version"])
        assert match, w["model_version"]
        if w["rule_id"] == "high_pd" and w["status"] == "open":
            assert w["score"] is not None and w["score"] > 0.35, w
        for reason in w["model_reasons"]:
            assert set(reason) == {"name", "value", "contribution"}, reason
            assert reason["contribution"] > 0, reason
    # A score above the base rate is explained by the features that raised it (one
    # driven by the intercept alone has none to name).
    seen = [w for w in model_warnings if w["rule_id"] == "model_seen"]
    assert seen, "no partition's PD came out of its warm-up"
    assert any(w["model_reasons"] for w in seen), seen[:3]
    # The restored hubs went on from their checkpoints: no version after the restart
    # counts fewer labels than the smallest checkpoint did.
    after = [
        int(_VERSION.match(w["model_version"]).group(2))
        for w in collector.seen[warnings][seen_at_kill:]
        if w.get("model_version")
    ]
    assert after and min(after) >= min(learned.values()), (after[:10], learned)
