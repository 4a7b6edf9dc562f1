"""The progressive metrics: the binned ROC AUC is the exact one, and old checkpoints still read."""

from __future__ import annotations

import pickle
import random

import pytest
from river import metrics as river_metrics

from models.metrics import BinnedAUC, ProgressiveMetrics


def exact_auc(labels: list[bool], scores: list[float]) -> float:
    """Mann-Whitney over every pair, ties counted half."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def test_binned_auc_equals_the_exact_auc_for_scores_a_bin_apart() -> None:
    rng = random.Random(3)
    scores = [rng.randrange(1000) / 1000 + 0.0005 for _ in range(600)]
    labels = [rng.random() < s for s in scores]
    auc = BinnedAUC()

    for y, p in zip(labels, scores, strict=True):
        auc.update(y, {True: p, False: 1.0 - p})

    assert auc.get() == pytest.approx(exact_auc(labels, scores), abs=1e-12)


def test_binned_auc_is_zero_until_both_classes_are_seen_and_takes_the_edges() -> None:
    auc = BinnedAUC()
    auc.update(True, {True: 1.0, False: 0.0})
    assert auc.get() == 0.0

    auc.update(False, {True: 0.0, False: 1.0})

    assert auc.get() == 1.0


def test_metrics_saved_with_rivers_auc_keep_reading_it() -> None:
    old = ProgressiveMetrics()
    old.auc = river_metrics.ROCAUC(n_thresholds=50)  # what checkpoints held before
    for y, p in [(True, 0.9), (False, 0.2), (True, 0.6), (False, 0.7)]:
        old.update(y, p)

    restored = pickle.loads(pickle.dumps(old))  # noqa: S301 - our own bytes
    restored.update(False, 0.1)

    assert restored.to_dict()["n"] == 5
    assert 0.0 < restored.to_dict()["roc_auc"] <= 1.0
