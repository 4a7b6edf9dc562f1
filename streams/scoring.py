"""The models in the worker: one hub per partition, scores into each step, drift warnings out.

Each Kafka partition of the events topic gets its own `models.hub.ModelHub`,
checkpointed in the worker's ``models`` table under the partition's key. A hub
thus moves with its partition on a rebalance and comes back from the changelog
after a crash, like the loans it learns from; a replay of one partition's events
yields the same scores whichever worker runs it.

Per step (`PartitionModels.scorer`): the engine applies the event, then asks the
hub for scores before judging rules (`rules.scoring.Scorer`); the PD's feature
vector is kept in the loan's `models.labels.PendingLabels` (stored with the
loan's record). After the step, `PartitionModels.after_step` labels what the
loan's state now proves and learns from it, so no score ever saw a label its
own step produced.

Until a partition's hub has learned ``model_warmup_labels`` outcomes its PD is
withheld from the rules (they read ``model.pd`` as 0.0): a model that has seen
no outcome would call every loan a coin toss.

A checkpoint is written in chunks of at most `CHUNK_BYTES` under keys of its
own (``p3.b.0``, ``p3.b.1``, ...), then a small manifest under the partition's
key (``p3``) names the chunks and their SHA-256. Kafka refuses messages over
1 MB by default, and an ensemble's checkpoint is several MB (docs/models.md);
chunks fit any broker's defaults. The chunks alternate between two sets (``a``
and ``b``) and the manifest goes last, so a crash while writing leaves the
previous manifest naming the previous, complete set: a restart restores that.
A checkpoint written before chunking (the hub's bytes under ``p3``) is read too.

Checkpoints are written every ``model_checkpoint_steps`` steps of a partition:
a crash loses at most that much learning (the pending snapshots already
learned are gone from the loans' label stores), never scoring. Each checkpoint
also queues the hub's progressive metrics (`streams.model_metrics`), which the
agent drains after the step (`PartitionModels.drain_metrics`) and sends to the
model metrics topic: the figures then describe exactly the state a restart
comes back to, and cost nothing between checkpoints.

A drift (`models.drift.Drift`) becomes a warning on the warnings topic for team
``models``; its ``loan_id`` names the model and partition (``model:pd/p3``), not a
loan. At most one per (model, metric, partition, day), so its id stays unique.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from models.drift import Drift
from models.exceptions import CheckpointError
from models.hub import HubConfig, ModelHub, Scores
from models.labels import PendingLabels
from rules.events import Event, NoteLabelled
from rules.loan import LoanState
from rules.scoring import ModelReason, ScoreCard
from rules.warnings import RiskWarning, model_drift_warning
from streams.model_metrics import ModelMetrics, partition_metrics

__all__ = ["CHUNK_BYTES", "PartitionModels", "drift_warning", "score_card"]

log = logging.getLogger("loanwatch.models")

_LEN = struct.Struct(">I")

CHUNK_BYTES = 512 * 1024
"""Largest chunk of a checkpoint: half of Kafka's default 1 MB message limit."""

_MANIFEST = b"LWCM"
_MANIFEST_BODY = struct.Struct(">cII32s")  # set in use, its chunk count, the other's, SHA-256


def _manifest(head: bytes | None) -> tuple[bytes, int, int, bytes] | None:
    """(set in use, its chunk count, the other set's, SHA-256), or None: no manifest there."""
    if not head or not head.startswith(_MANIFEST):
        return None
    using, count, other, digest = _MANIFEST_BODY.unpack_from(head, len(_MANIFEST))
    return using, count, other, digest


def score_card(scores: Scores, *, pd_ready: bool = True) -> ScoreCard:
    """The rules' view of a hub's scores.

    Until the hub has learned enough labels (``pd_ready`` false) the PD is left
    out, so rules read ``model.pd`` as 0.0: an untrained model says 0.5 about
    every loan, which would raise a warning on the whole book.
    """
    values = scores.rule_scores()
    if not pd_ready:
        values.pop("pd", None)
    return ScoreCard(
        values=values,
        reasons=tuple(ModelReason(r.name, r.value, r.contribution) for r in scores.reasons)
        if pd_ready
        else (),
        version=scores.model_version,
    )


def drift_warning(drift: Drift, partition: int, pack_digest: str, now: datetime) -> RiskWarning:
    """A drift as a warning for the model owners (`rules.warnings.model_drift_warning`)."""
    return model_drift_warning(
        f"{drift.model}/p{partition}",
        drift.metric,
        drift.before,
        drift.after,
        drift.detected_at,
        pack_digest=pack_digest,
        now=now,
    )


@dataclass
class PartitionHub:
    """One partition's hub, with what it has said since its last checkpoint."""

    hub: ModelHub
    steps: int = 0
    drift_days: dict[str, int] = field(default_factory=dict)
    """Last day (ordinal) a drift warning was sent per ``model/metric``."""

    def to_bytes(self) -> bytes:
        head = orjson.dumps(self.drift_days)
        return _LEN.pack(len(head)) + head + self.hub.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> PartitionHub:
        (size,) = _LEN.unpack_from(data)
        head = data[_LEN.size : _LEN.size + size]
        hub = ModelHub.from_bytes(data[_LEN.size + size :])
        return cls(hub, drift_days=dict(orjson.loads(head)))


class PartitionModels:
    """The hubs of the partitions this worker holds, loaded from and saved to a table.

    ``table`` is any mutable mapping of bytes to bytes (the worker's Faust table);
    writes must happen while a message of that partition is being processed.
    """

    def __init__(
        self,
        table: Any,
        config: HubConfig,
        checkpoint_steps: int,
        warmup_labels: int = 0,
        *,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self._table = table
        self._chunk_bytes = chunk_bytes
        self._config = config
        self._checkpoint_steps = checkpoint_steps
        self._warmup = warmup_labels
        self._slots: dict[int, PartitionHub] = {}
        self._metrics: list[ModelMetrics] = []

    @staticmethod
    def key(partition: int) -> bytes:
        return f"p{partition}".encode()

    def forget(self) -> None:
        """Partitions moved: reload every hub from the table when next needed."""
        self._slots.clear()

    def slot(self, partition: int) -> PartitionHub:
        found = self._slots.get(partition)
        if found is None:
            found = self._restore(partition)
            if found is None:
                found = PartitionHub(ModelHub(self._config))
            self._slots[partition] = found
        return found

    def _restore(self, partition: int) -> PartitionHub | None:
        """The partition's last complete checkpoint, or None (logged) when there is none."""
        try:
            data = self._read_checkpoint(partition)
            if data is None:
                return None
            found = PartitionHub.from_bytes(data)
        except (CheckpointError, ValueError, struct.error) as exc:
            log.error("model checkpoint of partition %d unreadable: %s", partition, exc)
            return None
        wanted = self._config.pd_candidate
        if found.hub.pd.candidate != wanted:
            log.warning(
                "model checkpoint of partition %d holds a %s PD; starting a fresh %s one",
                partition,
                found.hub.pd.candidate,
                wanted,
            )
            return None
        return found

    def _read_checkpoint(self, partition: int) -> bytes | None:
        key = self.key(partition)
        head = self._table.get(key)
        if not head:
            return None
        manifest = _manifest(head)
        if manifest is None:
            return bytes(head)  # written before chunking: the whole checkpoint
        using, count, _, digest = manifest
        parts = [self._table.get(self._chunk_key(key, using, i)) for i in range(count)]
        if any(part is None for part in parts):
            raise CheckpointError(f"model checkpoint: a chunk of set {using.decode()} is missing")
        data = b"".join(parts)
        if hashlib.sha256(data).digest() != digest:
            raise CheckpointError("model checkpoint: chunks do not match the manifest")
        return data

    @staticmethod
    def _chunk_key(key: bytes, chunk_set: bytes, index: int) -> bytes:
        return b"%s.%s.%d" % (key, chunk_set, index)

    def _write_checkpoint(self, partition: int, data: bytes) -> None:
        """Chunks into the set the manifest does not name, then the manifest (see above)."""
        key = self.key(partition)
        manifest = _manifest(self._table.get(key))
        counts = {b"a": 0, b"b": 0}
        using = b"b"  # so that the first checkpoint goes to set a
        if manifest is not None:
            using, count, other, _ = manifest
            counts[using], counts[b"a" if using == b"b" else b"b"] = count, other
        target = b"a" if using == b"b" else b"b"
        chunks = [data[i : i + self._chunk_bytes] for i in range(0, len(data), self._chunk_bytes)]
        for i, chunk in enumerate(chunks):
            self._table[self._chunk_key(key, target, i)] = chunk
        for i in range(len(chunks), counts[target]):  # the set's older, longer checkpoint
            del self._table[self._chunk_key(key, target, i)]
        body = _MANIFEST_BODY.pack(
            target, len(chunks), counts[using], hashlib.sha256(data).digest()
        )
        self._table[key] = _MANIFEST + body

    def new_labels(self) -> PendingLabels:
        return PendingLabels(
            self._config.horizon_days, self._config.spacing_days, self._config.capacity
        )

    def scorer(self, partition: int, labels: PendingLabels, now: datetime) -> Any:
        """A `rules.scoring.Scorer` for one step of one loan on ``partition``."""
        hub = self.slot(partition).hub
        ready = hub.pd_learned >= self._warmup

        def score(loan: LoanState, event: Event | None) -> ScoreCard:
            return score_card(hub.score(loan, now=now, labels=labels, event=event), pd_ready=ready)

        return score

    def after_step(
        self,
        partition: int,
        loan: LoanState,
        labels: PendingLabels,
        now: datetime,
        digest: str,
        event: Event | None = None,
    ) -> list[RiskWarning]:
        """Learn what the step taught; checkpoint when due; drift warnings.

        The loan's state teaches the PD its outcomes; a collector's ``note_labelled``
        (accepted by the core, so never a duplicate) teaches the text model, before
        this step counts towards the checkpoint and its drifts are drained.
        """
        slot = self.slot(partition)
        if isinstance(event, NoteLabelled):
            slot.hub.learn_intent(event.text, event.intent, now=now)
        slot.hub.observe_outcome(loan, labels, now=now)
        out: list[RiskWarning] = []
        for drift in slot.hub.drain_drifts():
            name = f"{drift.model}/{drift.metric}"
            day = drift.detected_at.date().toordinal()
            if slot.drift_days.get(name) == day:
                continue
            slot.drift_days[name] = day
            out.append(drift_warning(drift, partition, digest, now))
        slot.steps += 1
        if slot.steps >= self._checkpoint_steps:
            self.checkpoint(partition, now)
        return out

    def checkpoint(self, partition: int, now: datetime | None = None) -> None:
        """Store the partition's hub and queue its metrics, stamped ``now``, for sending."""
        slot = self._slots.get(partition)
        if slot is not None:
            self._write_checkpoint(partition, slot.to_bytes())
            slot.steps = 0
            self._metrics.extend(partition_metrics(slot.hub, partition, now or datetime.now(UTC)))

    def drain_metrics(self) -> list[ModelMetrics]:
        """The metrics queued by checkpoints since the last drain, oldest first.

        Called after every step: without a checkpoint it returns the same empty
        list and allocates nothing.
        """
        if not self._metrics:
            return self._metrics
        out, self._metrics = self._metrics, []
        return out
