from __future__ import annotations

import random

import pytest

from models import CANDIDATES, EarlyWarning, ProgressiveMetrics, UnknownModelError
from models.pd import binned


def stream(n: int, seed: int) -> list[tuple[dict[str, float], bool]]:
    """Rare defaults (about 10 %) driven by dpd and a utilisation share, plus noise."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        dpd, share, noise = rng.expovariate(1 / 10), rng.random(), rng.random()
        risk = 0.02 + 0.8 * (dpd > 25) + 0.15 * (share > 0.8)
        out.append(({"dpd": dpd, "share": share, "noise": noise}, rng.random() < risk))
    return out


@pytest.mark.parametrize("candidate", CANDIDATES)
def test_each_candidate_learns_a_rare_default_signal_progressively(candidate: str) -> None:
    model = EarlyWarning(candidate, seed=1)
    metrics = ProgressiveMetrics()
    for x, y in stream(2000, seed=2):
        metrics.update(y, model.predict_one(x))
        model.learn_one(x, y)
    assert metrics.to_dict()["roc_auc"] > 0.7


def test_calibration_brings_the_weighted_score_back_to_the_base_rate() -> None:
    model = EarlyWarning("logistic", seed=1)
    data = stream(3000, seed=3)
    for x, y in data:
        model.learn_one(x, y)
    probe = stream(1000, seed=4)
    rate = sum(y for _, y in probe) / len(probe)
    calibrated = sum(model.predict_one(x) for x, _ in probe) / len(probe)
    raw = sum(model.raw_one(x) for x, _ in probe) / len(probe)
    # Balanced weights inflate the raw score towards 0.5; Platt scaling undoes it.
    assert raw > 2 * rate
    assert abs(calibrated - rate) < 0.05


def test_explain_names_the_features_that_raised_the_score_largest_first() -> None:
    model = EarlyWarning("forest", seed=1)
    for x, y in stream(1500, seed=5):
        model.learn_one(x, y)
    reasons = model.explain({"dpd": 60.0, "share": 0.95, "noise": 0.5}, top=2)
    assert [r.name for r in reasons] == ["dpd", "share"]
    assert reasons[0].value == 60.0 and reasons[0].contribution > reasons[1].contribution > 0
    safe = model.explain({"dpd": 0.0, "share": 0.0, "noise": 0.5})
    assert not {"dpd", "share"} & {r.name for r in safe}


def test_an_unknown_candidate_is_refused_with_the_known_names() -> None:
    with pytest.raises(UnknownModelError, match="logistic, forest, ensemble"):
        EarlyWarning("xgboost")


def test_an_ensemble_holds_the_logistic_and_forest_candidates_exactly() -> None:
    # bench/taiwan.py relies on this to score every candidate in one pass.
    models = {c: EarlyWarning(c, seed=4) for c in CANDIDATES}
    data = stream(600, seed=6)
    for x, y in data:
        for model in models.values():
            model.learn_one(x, y)
    for x, _ in data[:50]:
        heads = models["ensemble"].heads_one(x)
        assert heads == {c: models[c].raw_one(x) for c in CANDIDATES}


def test_balanced_weights_favour_the_rare_class_and_can_be_turned_off() -> None:
    model = EarlyWarning("logistic")
    for x, y in stream(500, seed=7):
        model.learn_one(x, y)
    assert model.weight(True) > 1.0 > model.weight(False)
    assert EarlyWarning("logistic", balance=False).weight(True) == 1.0


def test_the_one_pass_linear_score_equals_the_pipeline_on_the_binned_vector() -> None:
    model = EarlyWarning("logistic", seed=1)
    rng = random.Random(3)
    for _ in range(400):
        x = {
            "dpd": float(rng.choice([0, 0, 0, 15, 35, 70, 100])),
            "outstanding_share": rng.random(),
            "noise": rng.random(),
        }
        model.learn_one(x, x["dpd"] > 50 or rng.random() < 0.1)
    for dpd in (0.0, 15.0, 35.0, 70.0, 100.0):
        x = {"dpd": dpd, "outstanding_share": 0.5, "noise": 0.5}
        expected = model.linear.predict_proba_one(binned(x))[True]
        assert model.raw_one(x) == pytest.approx(expected, abs=1e-12)
    # The bins' contribution is counted as the feature's own: no reason names a bin.
    reasons = model.explain({"dpd": 100.0, "outstanding_share": 0.5, "noise": 0.5})
    assert reasons[0].name == "dpd"
    assert all(">" not in r.name for r in reasons)


def test_the_bins_step_where_the_data_step_and_can_be_turned_off() -> None:
    def fit(bins: bool) -> EarlyWarning:
        model = EarlyWarning("logistic", seed=1, bins=bins)
        rng = random.Random(4)
        for _ in range(3000):
            dpd = float(rng.choice([0, 0, 0, 30, 60, 90]))
            model.learn_one({"dpd": dpd}, rng.random() < (0.05 if dpd == 0 else 0.5))
        return model

    with_bins, without = fit(True), fit(False)
    assert "dpd>1" not in without.linear["lr"].weights
    # The risk jumps at the first month late and is flat after: only the bins see it.
    step = with_bins.raw_one({"dpd": 30.0}) - with_bins.raw_one({"dpd": 0.0})
    flat = abs(with_bins.raw_one({"dpd": 90.0}) - with_bins.raw_one({"dpd": 30.0}))
    assert step > 3 * flat


def test_a_value_seen_once_among_thousands_of_labels_does_not_decide_the_score_alone() -> None:
    # Labels come a horizon late, so a scored loan can show a value the labelled
    # snapshots have shown once (the first on-time streak of 1): unclipped, it sat
    # 55 standard deviations out and took a current loan's PD from 0.1 to 1.0.
    model = EarlyWarning("logistic", calibrate=False)
    for i in range(3000):
        x = {"dpd": float(i % 50), "on_time_streak": 1.0 if i == 2000 else 0.0}
        model.learn_one(x, i % 50 >= 40 or i == 2000)
    usual = model.predict_one({"dpd": 0.0, "on_time_streak": 0.0})
    rare = {"dpd": 0.0, "on_time_streak": 1.0}
    assert model.predict_one(rare) < usual + 0.1
    # The one-pass score clips exactly as the pipeline does when it learns.
    assert model.raw_one(rare) == pytest.approx(
        model.linear.predict_proba_one(binned(rare))[True], abs=1e-12
    )
