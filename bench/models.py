"""Per-event cost of the models on one core: score (features + predict + explain), learn, explain.

Builds N loans with the synthetic generator of `bench/core.py` (on-time,
late, partial and stopped payers with account movements), folds their events
into real `rules.loan.LoanState` values, trains a `models.ModelHub` on the
delayed labels of a first pass, then times on a second pass, per event:

- ``score``: `ModelHub.score` (PD feature vector, prediction, reason codes,
  label snapshot, feature drift; plus the anomaly score on account movements);
- ``features``, ``predict``, ``explain`` on their own;
- ``learn``: `ModelHub.learn_pd` per labelled snapshot;
- the baseline, in the same run on the same vectors: the bare river pipeline
  (`StandardScaler | LogisticRegression`) ``predict_proba_one``, the least any
  river-based scorer pays. Ratios hold on a noisy machine where absolute
  times do not.

    .venv/bin/python bench/models.py --loans 500

Ends with one JSON line: {"score_us_per_event": .., "learn_us_per_label": .., ...}
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from river import compose, linear_model, optim, preprocessing

# This file is named like the package it measures: take its own folder off the
# import path so that `models` is the package, then load bench/core.py by path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from models import HubConfig, ModelHub, PendingLabels, pd_features  # noqa: E402
from rules.events import LoanDisbursed  # noqa: E402
from rules.loan import (  # noqa: E402
    LoanState,
    advance,
    apply,
    from_disbursement,
    loan_from_bytes,
    loan_to_bytes,
)
from rules.policy import load_policy  # noqa: E402

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _core_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_core", _HERE / "core.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def book(loans: int, seed: int) -> list[tuple[LoanState, Any]]:
    """Every (loan state after the event, event) of the book, in each loan's event order."""
    policy = load_policy()
    core = _core_bench()
    rng = random.Random(seed)
    steps: list[tuple[LoanState, Any]] = []
    for n in range(loans):
        events = core.loan_events(n, rng)  # the same synthetic book as bench/core.py
        first = events[0]
        assert isinstance(first, LoanDisbursed)
        state = from_disbursement(first, policy)
        for event in events[1:]:
            state.begin_step()
            apply(state, event, policy)
            advance(state, event.event_time.astimezone(policy.zone).date(), policy)
            steps.append((loan_from_bytes(loan_to_bytes(state)), event))
    return steps


def per_call_us(fn: Callable[[Any], Any], items: list[Any]) -> float:
    t0 = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - t0) / len(items) * 1e6


def run(loans: int, seed: int, candidate: str) -> dict[str, Any]:
    steps = book(loans, seed)
    hub = ModelHub(HubConfig(pd_candidate=candidate, horizon_days=90, spacing_days=7))
    # First pass: score every step, learn the labels the book produces.
    pending: dict[str, PendingLabels] = {}
    for loan, event in steps:
        labels = pending.setdefault(loan.loan_id, hub.new_labels())
        hub.score(loan, labels=labels, event=event, now=NOW)
        hub.observe_outcome(loan, labels, now=NOW)
    first_pass_labels = hub.pd_learned
    # Labelled examples for the timing of `learn`: each step's vector, labelled by
    # whether its loan ended 90+ DPD (the same label the first pass learned).
    bad = {loan.loan_id: loan.max_dpd >= 90 for loan, _ in steps}
    vectors = [pd_features(loan) for loan, _ in steps]
    examples = [(x, bad[loan.loan_id]) for x, (loan, _) in zip(vectors, steps, strict=True)]
    bare = compose.Pipeline(
        preprocessing.StandardScaler(), linear_model.LogisticRegression(optimizer=optim.Adam(0.001))
    )
    for x in vectors[:2000]:
        bare.learn_one(x, x["dpd"] > 30)

    baseline_us = per_call_us(bare.predict_proba_one, vectors)
    features_us = per_call_us(lambda s: pd_features(s[0]), steps)
    predict_us = per_call_us(hub.pd.predict_one, vectors)
    explain_us = per_call_us(hub.pd.explain, vectors)
    ticks = [loan for loan, event in steps if event.type != "account_transaction"]
    moves = [(loan, event) for loan, event in steps if event.type == "account_transaction"]
    score_tick_us = per_call_us(lambda loan: hub.score(loan, now=NOW), ticks)
    score_move_us = per_call_us(lambda s: hub.score(s[0], event=s[1], now=NOW), moves)
    with_labels = [(loan, PendingLabels()) for loan in ticks]
    score_labels_us = per_call_us(lambda s: hub.score(s[0], labels=s[1], now=NOW), with_labels)
    score_us = (score_labels_us * len(ticks) + score_move_us * len(moves)) / len(steps)
    learn_us = per_call_us(lambda ex: hub.learn_pd([ex], now=NOW), examples)

    blobs = [labels.to_bytes() for _, labels in with_labels]
    t0 = time.perf_counter()
    checkpoint = hub.to_bytes()
    ModelHub.from_bytes(checkpoint)
    checkpoint_ms = (time.perf_counter() - t0) * 1e3
    return {
        "candidate": candidate,
        "loans": loans,
        "events": len(steps),
        "labels_learned_first_pass": first_pass_labels,
        "score_us_per_event": round(score_us, 2),
        "score_tick_us": round(score_labels_us, 2),
        "score_no_snapshot_us": round(score_tick_us, 2),
        "score_account_movement_us": round(score_move_us, 2),
        "features_us": round(features_us, 2),
        "predict_us": round(predict_us, 2),
        "explain_us": round(explain_us, 2),
        "learn_us_per_label": round(learn_us, 2),
        "baseline_predict_proba_us": round(baseline_us, 2),
        "score_vs_baseline": round(score_us / baseline_us, 2),
        "predict_vs_baseline": round(predict_us / baseline_us, 2),
        "learn_vs_baseline": round(learn_us / baseline_us, 2),
        "pending_label_bytes_per_snapshot": round(sum(map(len, blobs)) / max(1, len(blobs))),
        "checkpoint_bytes": len(checkpoint),
        "checkpoint_roundtrip_ms": round(checkpoint_ms, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loans", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--candidate", default="logistic")
    args = parser.parse_args()
    figures = run(args.loans, args.seed, args.candidate)
    for key, value in figures.items():
        print(f"{key:>30}: {value}", file=sys.stderr)
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
