"""What batch learners reach on exactly what the online PD saw: the bar it can be held to.

`bench/early_warning.py`'s file-column reference (``pd_auc_batch_reference``)
learns from the Taiwan CSV's own columns, which hold information the replayed
events never carry (the bank's status codes -2/-1/0: "no bill", "paid in full",
"revolving" are all DPD 0 to the engine). Two references here learn only from
the feature vectors the online PD scored (`streams.backtest.WorkerStepper` with
``record_pd=True``), on the same loans and labels:

- `cross_validated`: 5-fold cross-validated gradient boosting and logistic
  regression on the scored vectors. Each fold trains on loans scored after the
  ones it judges too, so this is an upper bound for a learner of these
  features, not what an online one could have known.
- `time_respecting`: the later half of the loans by scoring time, judged three
  ways: the online PD as it scored them, and batch learners fitted only on the
  labelled snapshots the hub had learned before the first of them was scored
  (the labels available by then, as the online PD had them): on all of them,
  as the online PD learns, and on those scored while the loan was current
  (``_current``), which asks the judged question only.

Nothing here reads a file or a clock; scikit-learn is a dev dependency (bench only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from streams.backtest import Learned

__all__ = ["ScoredLoan", "TimeRespecting", "cross_validated", "learners", "time_respecting"]

FOLDS = 5


@dataclass(frozen=True, slots=True)
class ScoredLoan:
    """One judged loan: when its PD was scored, the vector scored, the PD, the outcome."""

    now: datetime
    x: tuple[float, ...]
    pd: float
    bad: bool


@dataclass(frozen=True, slots=True)
class TimeRespecting:
    """The later half of the loans, judged by the online PD and by batch learners fitted
    on the labels learned before ``cut``."""

    cut: datetime
    judged: int
    positives: int
    examples: int
    """Labelled snapshots learned before ``cut``: the batch learners' training set."""
    online: float | None
    batch: dict[str, float] = field(default_factory=dict)
    """ROC AUC per learner and training set (``boosting``, ``logistic_current``, ...); a
    training set with one class, or a judged half with one, gives none."""

    @property
    def best(self) -> float | None:
        return max(self.batch.values()) if self.batch else None


def learners() -> dict[str, Any]:
    """The batch learners every reference uses, unfitted: gradient boosting and logistic.

    Deterministic: the same data give the same figures.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # Past 10,000 samples scikit-learn stops early on a random validation split: seeded,
    # so that a run repeats its figures (the full panel's folds are 20,000 loans).
    return {
        "boosting": HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=0
        ),
        "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    }


def cross_validated(x: Sequence[Sequence[float]], y: Sequence[bool]) -> dict[str, float]:
    """Mean ROC AUC of each learner over 5 stratified folds (shuffled, seed 0)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0)
    return {
        name: float(cross_val_score(model, x, y, cv=folds, scoring="roc_auc").mean())
        for name, model in learners().items()
    }


def _auc(y: Sequence[bool], p: Sequence[float]) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if 0 < sum(y) < len(y) else None


def time_respecting(
    loans: Sequence[ScoredLoan], learned: Sequence[Learned], *, dpd_at: int | None = None
) -> TimeRespecting:
    """Judge the later half of ``loans`` (by scoring time) with what was known before it.

    The cut is the scoring time of the first judged loan; a label learned at or
    after it is not trained on, even at the same instant (the step order within
    one moment is not the batch learner's to know). ``dpd_at``: where DPD is in
    the vectors, to fit on the current loans' labels too.
    """
    ordered = sorted(loans, key=lambda loan: loan.now)
    later = ordered[len(ordered) // 2 :]
    if not later:
        raise ValueError("time_respecting: no scored loans")
    cut = later[0].now
    train = [e for e in learned if e.now < cut]
    y = [loan.bad for loan in later]
    out = TimeRespecting(cut, len(later), sum(y), len(train), _auc(y, [loan.pd for loan in later]))
    if out.online is None:
        return out
    sets = {"": train}
    if dpd_at is not None:
        sets["_current"] = [e for e in train if e.x[dpd_at] == 0]
    judged = [loan.x for loan in later]
    for suffix, examples in sets.items():
        labels = [e.bad for e in examples]
        if not 0 < sum(labels) < len(labels):
            continue
        for name, model in learners().items():
            model.fit([e.x for e in examples], labels)
            auc = _auc(y, model.predict_proba(judged)[:, 1])
            if auc is not None:
                out.batch[name + suffix] = auc
    return out
