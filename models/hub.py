"""`ModelHub`: every online model of the monitor behind one small, pure API.

The worker owns one hub per process (or per partition) and, for each loan,
one `PendingLabels` stored beside the loan's state. Per step of a loan (an
event or a clock tick), after `rules.core.Engine` has applied it:

1. ``scores = hub.score(loan, labels=pending, event=event, now=now)`` — the
   early-warning PD (with reason codes), the anomaly score of an account
   movement, the intent of a collection note; the PD's feature vector is kept
   in ``pending`` (spaced, bounded) for learning once its outcome is known.
   ``scores.rule_scores()`` is the mapping the rule engine reads as
   ``model.*`` (`rules.vocabulary.RuleContext.scores`).
2. ``hub.observe_outcome(loan, pending, now=now)`` — labels what the loan's
   state now proves (``bad_dpd``, 60 by default, or written off: bad; horizon
   passed or repaid: good) and learns from it, oldest first. Call it *after* scoring, so no
   score of this step has seen a label this step produced.
3. ``hub.drain_drifts()`` — `models.drift.Drift` values for warnings to team
   ``models``; ``hub.metrics()`` — progressive figures per model for
   ClickHouse and Redis: the PD over every labelled snapshot (``pd``) and over
   those taken while the loan was current (``pd_current``), the question
   on-call staff ask (which current loans go bad), which the first figure hides
   because loans already late dominate it.

A collector's later label for a note: ``hub.learn_intent(text, label, now=now)``;
the worker calls it for each ``note_labelled`` event the core accepted
(`streams.judging`), so a redelivered label is not learned twice.

Checkpoint: ``hub.to_bytes()`` / ``ModelHub.from_bytes(data)``, restored with
identical predictions. The models are pickled: river estimators are plain
Python objects with no other serial form, and pickling keeps every running
statistic exactly. Pickle runs code when loaded, so a checkpoint must only
ever be read from the worker's own changelog or table, never from outside.
Each score carries ``model_version``, which names the PD candidate and how many
labels each model has learned, so a score can be traced to the checkpoint that
made it.

Examples
--------
>>> from datetime import UTC, date, datetime
>>> from types import SimpleNamespace
>>> from models.features import NO_BEHAVIOUR
>>> loan = SimpleNamespace(  # a LoanState in the worker; the same attributes here
...     features=NO_BEHAVIOUR, principal=100_000, outstanding_principal=90_000, overdue_total=0,
...     dpd=0, max_dpd=0, bucket_index=0, klass_index=0, missed_installments=0,
...     on_time_streak=1, last_day_streak=0, late_cure_count=0, partial_payments=0,
...     promises_broken=0, third_party_repayments=0, days_since_disbursement=31,
...     restructured=False, clock_day=date(2026, 3, 2).toordinal(), status="active",
...     written_off=False, today=date(2026, 3, 2))
>>> hub = ModelHub(HubConfig(pd_candidate="logistic"))
>>> pending = hub.new_labels()
>>> now = datetime(2026, 3, 2, 9, tzinfo=UTC)
>>> note = SimpleNamespace(type="collection_note", text="下周五还")
>>> scores = hub.score(loan, labels=pending, event=note, now=now)
>>> scores.intent.label, scores.intent.promise_date, len(pending)
('promise_to_pay', datetime.date(2026, 3, 13), 1)
>>> 0.0 <= scores.rule_scores()["pd"] <= 1.0
True
>>> ModelHub.from_bytes(hub.to_bytes()).score(loan, now=now) == hub.score(loan, now=now)
True
"""

from __future__ import annotations

import math
import pickle  # noqa: S403 - checkpoints are our own bytes; see the module docstring
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from models.anomaly import AccountAnomaly
from models.drift import Drift, DriftMonitor
from models.exceptions import CheckpointError
from models.features import pd_features, transaction_features
from models.intent import INTENTS, Intent, IntentClassifier
from models.labels import PendingLabels
from models.metrics import ProgressiveMetrics
from models.pd import EarlyWarning, Reason

__all__ = ["HubConfig", "ModelHub", "Scores"]

_MAGIC: Final = b"LWMH"
_FORMAT: Final = 1
_CLIP: Final = 1e-6


@dataclass(frozen=True, slots=True)
class HubConfig:
    """How the hub's models are built and labelled.

    ``horizon_days``: a PD snapshot is good once this many days pass without a
    bad state; ``bad_dpd``: DPD at which a loan counts as bad (60: a loan current
    on the day it is scored can reach 60 DPD within a 90-day horizon, but not
    90 if its next due date is weeks away, so with 90 the model would never see
    a current loan go bad and would learn only how late loans roll on); ``spacing_days``
    and ``capacity``: at most one snapshot per spacing, at most capacity per
    loan; ``alert_threshold``: where precision is measured (the rule pack's
    ``model.pd`` cut-off); ``reasons``: how many reason codes a score carries;
    ``drift_features``: PD features whose distribution ADWIN watches.
    """

    pd_candidate: str = "logistic"
    horizon_days: int = 90
    bad_dpd: int = 60
    spacing_days: int = 7
    capacity: int = 16
    alert_threshold: float = 0.35
    reasons: int = 3
    seed: int = 0
    drift_features: tuple[str, ...] = ("dpd", "overdue_share", "outstanding_share")


@dataclass(frozen=True, slots=True)
class Scores:
    """What the models say about one loan at one step."""

    pd: float
    reasons: tuple[Reason, ...]
    model_version: str
    anomaly: float | None = None
    intent: Intent | None = None

    def rule_scores(self) -> dict[str, float]:
        """The ``model.*`` values for `rules.vocabulary.RuleContext.scores`.

        ``pd``; ``anomaly`` (0.0 when the step was not an account movement);
        ``intent_<label>``: 1.0 for the label of a note in this step, else 0.0.
        """
        out = {"pd": self.pd, "anomaly": self.anomaly or 0.0}
        label = self.intent.label if self.intent is not None else None
        for name in INTENTS:
            out[f"intent_{name}"] = 1.0 if name == label else 0.0
        return out


class ModelHub:
    """Holds the PD, anomaly, intent and drift models (see the module docstring)."""

    def __init__(self, config: HubConfig | None = None) -> None:
        self.config = config = config or HubConfig()
        self.pd = EarlyWarning(config.pd_candidate, seed=config.seed)
        self.anomaly = AccountAnomaly(seed=config.seed)
        self.intent = IntentClassifier()
        self.drift = DriftMonitor()
        self.pd_metrics = ProgressiveMetrics(config.alert_threshold)
        self.pd_current_metrics = ProgressiveMetrics(config.alert_threshold)
        self.intent_hits = 0
        self.pd_learned = 0
        self.intent_learned = 0

    @property
    def model_version(self) -> str:
        """``pd-<candidate>.<labels learned>/intent.<labels learned>``: one per model state."""
        return f"pd-{self.pd.candidate}.{self.pd_learned}/intent.{self.intent_learned}"

    def new_labels(self) -> PendingLabels:
        """An empty label store for a new loan, with this hub's horizon, spacing and capacity."""
        c = self.config
        return PendingLabels(c.horizon_days, c.spacing_days, c.capacity)

    # per step

    def score(
        self,
        loan: Any,
        *,
        now: datetime,
        labels: PendingLabels | None = None,
        event: Any = None,
    ) -> Scores:
        """Score a loan after a step was applied (``event`` is ``None`` on a clock tick).

        Parameters
        ----------
        loan
            The `rules.loan.LoanState` after the step.
        now
            Wall-clock time of the step (stamps drift values).
        labels
            The loan's `PendingLabels`; the PD feature vector is kept in it.
        event
            The event of the step: an ``account_transaction`` gets an anomaly
            score (and is learned), a ``collection_note`` an intent.
        """
        x = pd_features(loan)
        pd, reasons = self.pd.score_one(x, self.config.reasons)
        # Feature drift is watched on the kept snapshots: one per loan per spacing,
        # so a loan with many events a day does not outweigh the rest of the book.
        if labels is not None and labels.add(loan.clock_day, x):
            for name in self.config.drift_features:
                self.drift.update("pd", f"feature.{name}", x[name], now)
        kind = getattr(event, "type", None)
        anomaly = intent = None
        if kind == "account_transaction":
            anomaly = self.anomaly.score_one(
                transaction_features(
                    amount=event.amount,
                    direction=event.direction,
                    category=event.counterparty_category,
                    balance_after=event.balance_after,
                    features=loan.features,
                )
            )
        elif kind == "collection_note":
            intent = self.intent.predict_one(event.text, date.fromordinal(loan.clock_day))
        return Scores(pd, reasons, self.model_version, anomaly, intent)

    def observe_outcome(self, loan: Any, labels: PendingLabels, *, now: datetime) -> int:
        """Label what the loan's state now proves and learn from it; returns how many.

        Bad: DPD at or past ``bad_dpd``, or written off. Good: a snapshot's
        horizon passed, or the loan was repaid (status ``closed``).
        """
        bad = loan.dpd >= self.config.bad_dpd or bool(loan.written_off)
        examples = labels.resolve(loan.clock_day, bad=bad, ended=loan.status == "closed")
        return self.learn_pd(examples, now=now)

    def learn_pd(self, examples: list[tuple[dict[str, float], bool]], *, now: datetime) -> int:
        """Learn labelled PD snapshots in order; each is first predicted, for the metrics."""
        for x, y in examples:
            raw = self.pd.raw_uncached(x)
            p = self.pd.calibrated(raw)
            self.pd_metrics.update(y, p)
            if x.get("dpd", 0.0) == 0.0:  # scored while current
                self.pd_current_metrics.update(y, p)
            q = min(max(p if y else 1.0 - p, _CLIP), 1.0)
            self.drift.update("pd", "log_loss", -math.log(q), now, rising_only=True)
            self.pd.learn_one(x, y, raw)
            self.pd_learned += 1
        return len(examples)

    def learn_intent(self, text: str, label: str, *, now: datetime) -> None:
        """A collector's label for a note: judged first (accuracy, drift), then learned."""
        hit = self.intent.predict_one(text, now.date()).label == label
        self.intent_hits += hit
        self.drift.update("intent", "error", 0.0 if hit else 1.0, now, rising_only=True)
        self.intent.learn_one(text, label)
        self.intent_learned += 1

    # operating

    def drain_drifts(self) -> list[Drift]:
        """Drifts detected since the last drain, for warnings to team ``models``."""
        return self.drift.drain()

    def metrics(self) -> dict[str, dict[str, Any]]:
        """Progressive figures per model, plain values, with the model version."""
        version = self.model_version
        return {
            "pd": {**self.pd_metrics.to_dict(), "model_version": version},
            "pd_current": {**self.pd_current_metrics.to_dict(), "model_version": version},
            "intent": {
                "n": self.intent_learned,
                "accuracy": self.intent_hits / self.intent_learned if self.intent_learned else 0.0,
                "model_version": version,
            },
        }

    def to_bytes(self) -> bytes:
        """The whole hub as bytes (see the module docstring for why pickle)."""
        return _MAGIC + bytes([_FORMAT]) + pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, data: bytes) -> ModelHub:
        """Restore `to_bytes` output; `CheckpointError` when it is not a hub checkpoint."""
        if data[:4] != _MAGIC or data[4:5] != bytes([_FORMAT]):
            raise CheckpointError("model checkpoint: not a ModelHub checkpoint of format 1")
        try:
            hub = pickle.loads(data[5:])  # noqa: S301 - only our own checkpoints are read
        except Exception as exc:
            raise CheckpointError(f"model checkpoint: cannot be read: {exc}") from exc
        if not isinstance(hub, cls):
            raise CheckpointError("model checkpoint: holds no ModelHub")
        hub.intent.learn_unseen_labels()  # labels added to the code since the checkpoint
        if not hasattr(hub, "pd_current_metrics"):  # a checkpoint from before the figure
            hub.pd_current_metrics = ProgressiveMetrics(hub.config.alert_threshold)
        return hub
