from __future__ import annotations

import pytest

from models import CheckpointError, PendingLabels


def test_snapshots_closer_than_the_spacing_are_not_kept() -> None:
    pending = PendingLabels(spacing_days=7)
    kept = [pending.add(day, {"dpd": float(day)}) for day in (1, 3, 8, 14, 15)]
    assert kept == [True, False, True, False, True]
    assert pending.days == [1, 8, 15]


def test_a_full_store_drops_its_oldest_snapshot() -> None:
    pending = PendingLabels(spacing_days=1, capacity=2)
    for day in (1, 2, 3):
        pending.add(day, {"d": float(day)})
    assert pending.days == [2, 3]


def test_good_labels_come_only_once_the_horizon_has_passed_oldest_first() -> None:
    pending = PendingLabels(horizon_days=30, spacing_days=1)
    for day in (10, 20, 30):
        pending.add(day, {"d": float(day)})
    assert pending.resolve(39, bad=False) == []
    assert pending.resolve(50, bad=False) == [({"d": 10.0}, False), ({"d": 20.0}, False)]
    assert pending.days == [30]


def test_going_bad_labels_snapshots_inside_the_horizon_bad_and_closes_the_store() -> None:
    pending = PendingLabels(horizon_days=30, spacing_days=1)
    for day in (10, 40, 60):
        pending.add(day, {"d": float(day)})
    out = pending.resolve(65, bad=True)
    assert out == [({"d": 10.0}, False), ({"d": 40.0}, True), ({"d": 60.0}, True)]
    assert pending.closed and not pending.add(70, {"d": 70.0})


def test_a_repaid_loan_labels_every_pending_snapshot_good() -> None:
    pending = PendingLabels(horizon_days=90, spacing_days=1)
    pending.add(1, {"d": 1.0})
    assert pending.resolve(5, bad=False, ended=True) == [({"d": 1.0}, False)]


def test_bytes_round_trip_keeps_values_exactly_and_mixed_feature_sets() -> None:
    pending = PendingLabels(horizon_days=60, spacing_days=2, capacity=5)
    pending.add(1, {"a": 0.1 + 0.2, "b": -3.5e-9})
    pending.add(4, {"a": 1.0, "b": 2.0})
    pending.add(9, {"other": 7.0})
    back = PendingLabels.from_bytes(pending.to_bytes())
    assert back == pending
    assert back.vectors[0]["a"] == 0.1 + 0.2


def test_unreadable_label_bytes_raise_a_checkpoint_error() -> None:
    with pytest.raises(CheckpointError, match="pending labels"):
        PendingLabels.from_bytes(b"not json")
    with pytest.raises(CheckpointError, match="format"):
        PendingLabels.from_bytes(b"[9, 1, 1, 1, false, [], []]")
