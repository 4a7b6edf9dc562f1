"""Early-warning probability of default: an online, class-weighted, calibrated classifier.

`EarlyWarning` scores a feature vector (`models.features.pd_features`) with
P(the loan reaches 90+ DPD or is written off within the horizon). Three
candidate estimators share the same wrapper, so the Taiwan bench
(`bench/taiwan.py`) compares them on equal terms:

``logistic``
    `river.preprocessing.StandardScaler` (clipped: `ClippedScaler`) then
    `river.linear_model.LogisticRegression`
    (plain SGD, a decaying rate with a floor: `DecayingRate`), on the features
    and fixed one-hot bins of a few of them (`BINS`).
    Cheap, stable, and its contributions are exact reason codes.
``forest``
    `river.forest.ARFClassifier` (adaptive random forest, 10 trees of depth at
    most 8, 60 % of the features per split, ADWIN drift detection per tree),
    which finds interactions the linear model cannot.
``ensemble``
    The mean of the two probabilities.

Class imbalance. Defaults are rare (a few percent of a book, 22 % in the
Taiwan data), so a plain learner spends its capacity on the majority class.
Each example is weighted by ``n / (2 * n_class)`` from running class counts
(the "balanced" weights of batch learners, kept online). The linear model takes
the weight directly; the forest, whose `learn_one` takes no weight, learns an
example ``floor(w)`` times plus once more with probability ``w - floor(w)``.

Calibration. Weighting shifts probabilities upwards, so the weighted score is
not a probability. Balanced weights shift the logit by the log prior odds,
which is known from the running counts and added back exactly; an online Platt
step (`PlattScaling`) then learns what is left (the forest's and the
ensemble's scores are not logistic, so something is). It is trained on the raw
score *before* the classifier learns the example, without weights, so it
learns the true base rate. The bench reports the Brier score of both.

Reason codes. For the linear part a feature's contribution to the logit is its
weight times its scaled value; the largest positive contributions are the
reasons. The forest alone has no such decomposition, so the ``forest``
candidate trains a linear shadow model beside it only to explain its scores.

Examples
--------
>>> ew = EarlyWarning("logistic", seed=1)
>>> for i in range(200):
...     ew.learn_one({"dpd": float(i % 40), "on_time_streak": float(i % 7)}, i % 40 > 30)
>>> ew.predict_one({"dpd": 35.0, "on_time_streak": 0.0}) > ew.predict_one(
...     {"dpd": 0.0, "on_time_streak": 6.0})
True
>>> [reason.name for reason in ew.explain({"dpd": 35.0, "on_time_streak": 0.0}, top=1)]
['dpd']
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Final

from river import compose, forest, linear_model, optim, preprocessing

from models.exceptions import UnknownModelError

__all__ = [
    "BINS",
    "CANDIDATES",
    "ClippedScaler",
    "DecayingRate",
    "EarlyWarning",
    "PlattScaling",
    "Reason",
    "binned",
]

CANDIDATES: Final = ("logistic", "forest", "ensemble")
"""The estimator families `EarlyWarning` can be built with."""

_CLIP: Final = 1e-6

BINS: Final[dict[str, tuple[float, ...]]] = {
    "dpd": (1.0, 30.0, 60.0, 90.0),
    "max_dpd": (1.0, 30.0, 60.0, 90.0),
    "on_time_streak": (1.0, 2.0, 3.0, 6.0),
    "outstanding_share": (0.001, 0.1, 0.3, 0.6, 0.9),
    "overdue_share": (0.001, 0.1, 0.3, 0.6, 0.9),
}
"""Fixed cut points of the features the linear model also sees one-hot, by bin.

A linear model gives DPD 30 half the weight of DPD 60; the data do not
(`bench/taiwan.py`: the first month late is most of the step). Beside the
value itself, the linear part gets an indicator ``name>i`` for the bin the
value falls in (``i`` = number of cut points at or below it), so each bin
learns its own step. The forest sees the plain values: it splits them itself.
"""


def _bin(value: float, cuts: tuple[float, ...]) -> int:
    i = 0
    for cut in cuts:
        if value < cut:
            break
        i += 1
    return i


def binned(x: dict[str, float]) -> dict[str, float]:
    """``x`` with the one-hot bin indicator of each `BINS` feature it holds added.

    Every indicator is added, 0 or 1: river's scaler skips a missing key, so
    an absent 0 would never reach its mean.

    >>> sorted(k for k, v in binned({"dpd": 45.0}).items() if k.startswith("dpd>"))
    ['dpd>0', 'dpd>1', 'dpd>2', 'dpd>3', 'dpd>4']
    >>> binned({"dpd": 45.0})["dpd>2"]
    1.0
    """
    out = dict(x)
    for name, cuts in BINS.items():
        value = x.get(name)
        if value is None:
            continue
        on = _bin(value, cuts)
        for i in range(len(cuts) + 1):
            out[f"{name}>{i}"] = 1.0 if i == on else 0.0
    return out


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason code: a feature, its value, and how much it raised the score's logit."""

    name: str
    value: float
    contribution: float


def _logit(p: float) -> float:
    p = min(max(p, _CLIP), 1.0 - _CLIP)
    return math.log(p / (1.0 - p))


def _clip(z: float, limit: float) -> float:
    return limit if z > limit else -limit if z < -limit else z


_Term = tuple[float, float, float, float, tuple[float, ...]]
"""One feature of the linear part: mean, 1 / std, weight, clip limit, bin steps."""


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class PlattScaling:
    """Online Platt scaling: ``p = sigmoid(a * logit(raw) + b + offset)``, SGD on log loss.

    Starts as the identity (``a = 1, b = 0``) so that an untrained calibrator
    does no harm. ``offset`` is a known shift the caller supplies: for a
    classifier trained with balanced weights it is the log prior odds, the
    exact correction for the weighting, so ``a`` and ``b`` learn only what is
    left and the scale does not wander while they converge.

    Examples
    --------
    >>> cal = PlattScaling(lr=0.05)
    >>> for i in range(2000):  # a score that says 0.5 when the truth is 0.1
    ...     cal.learn_one(0.5, i % 10 == 0)
    >>> round(cal.transform_one(0.5), 2)
    0.1
    """

    def __init__(self, lr: float = 0.002) -> None:
        self.lr = lr
        self.a = 1.0
        self.b = 0.0

    def transform_one(self, raw: float, offset: float = 0.0) -> float:
        return _sigmoid(self.a * _logit(raw) + self.b + offset)

    def learn_one(self, raw: float, y: bool, offset: float = 0.0) -> None:
        z = _logit(raw)
        gradient = _sigmoid(self.a * z + self.b + offset) - (1.0 if y else 0.0)
        self.a -= self.lr * gradient * z
        self.b -= self.lr * gradient


class DecayingRate(optim.base.Scheduler):
    """Learning rate ``max(start / sqrt(t + 1), floor)`` for the linear part's SGD.

    Online, the first labels are all there is: large steps then, smaller ones
    as the estimate settles (the ``1 / sqrt(t)`` of stochastic approximation),
    but never below ``floor``, so that a model running for months keeps
    following its book instead of freezing. With the defaults the floor is
    reached after 10,000 steps. On the Taiwan data this beat Adam at every
    rate tried (docs/models.md).

    >>> rate = DecayingRate(start=0.05, floor=0.0005)
    >>> rate.get(0), rate.get(99), rate.get(1_000_000)
    (0.05, 0.005, 0.0005)
    """

    def __init__(self, start: float = 0.05, floor: float = 0.0005) -> None:
        self.start = start
        self.floor = floor

    def get(self, t: int) -> float:
        return max(self.start / math.sqrt(t + 1), self.floor)


Z_LIMIT: Final = 5.0
"""Largest scaled value (in standard deviations) the linear part sees, either side of the mean.

Labels arrive a horizon late, so the book being scored holds values the labelled
snapshots have hardly shown yet (the first loans with a one-month on-time streak,
or in a new bin). Seen once in 7,000 examples, a 0/1 indicator has a standard
deviation of 0.012: scaled, a loan showing it sits 85 deviations out, and with
the weight that one example taught, its few copies (streak, last-day streak, two
bin indicators) took the logit past +19 and current loans to a PD of 1.0
(docs/models.md). Clipped at five deviations a rare value still counts,
but no longer decides alone.
"""


class ClippedScaler(preprocessing.StandardScaler):
    """`river.preprocessing.StandardScaler` whose output is clipped to ``[-limit, limit]``.

    >>> scaler = ClippedScaler(limit=5.0)
    >>> for i in range(1000):
    ...     scaler.learn_one({"flag": 1.0 if i == 0 else 0.0})
    >>> round(scaler.transform_one({"flag": 1.0})["flag"], 1)
    5.0
    """

    def __init__(self, limit: float = Z_LIMIT) -> None:
        super().__init__()
        self.limit = limit

    def transform_one(self, x: dict[Hashable, Any]) -> dict[Hashable, Any]:
        limit = self.limit
        scaled = super().transform_one(x)  # type: ignore[no-untyped-call]  # river: unannotated
        return {k: min(max(v, -limit), limit) for k, v in scaled.items()}


def _linear(seed: int) -> compose.Pipeline:
    del seed  # deterministic already; kept for a uniform builder signature
    return compose.Pipeline(
        ("scale", ClippedScaler()),
        ("lr", linear_model.LogisticRegression(optimizer=optim.SGD(DecayingRate()))),
    )


def _forest(seed: int) -> forest.ARFClassifier:
    # Grace period 20 (not 50), majority-class leaves, depth at most 8, 60 % of
    # the features per split (not the square root): chosen on the Taiwan data
    # (bench/taiwan.py); the settings tried are in docs/models.md.
    return forest.ARFClassifier(
        n_models=10,
        grace_period=20,
        leaf_prediction="mc",
        max_depth=8,
        max_features=0.6,  # type: ignore[arg-type]  # river takes a share; its hint says int
        seed=seed,
    )


class EarlyWarning:
    """A class-weighted, calibrated online PD classifier (see the module docstring).

    Parameters
    ----------
    candidate
        One of `CANDIDATES`.
    seed
        Seed of the forest and of the stochastic rounding of weights.
    balance
        Weight examples by inverse class frequency.
    calibrate
        Map raw scores through `PlattScaling`.
    bins
        Give the linear part the one-hot bins of `BINS` beside the values.
    """

    bins: bool = False  # a checkpoint from before bins existed restores without them

    def __init__(
        self,
        candidate: str = "logistic",
        *,
        seed: int = 0,
        balance: bool = True,
        calibrate: bool = True,
        bins: bool = True,
    ) -> None:
        if candidate not in CANDIDATES:
            known = ", ".join(CANDIDATES)
            raise UnknownModelError(f"unknown PD candidate {candidate!r}; known: {known}")
        self.candidate = candidate
        self.balance = balance
        self.calibrate = calibrate
        self.bins = bins
        self.linear = _linear(seed)  # the model in `logistic`, a member or shadow otherwise
        self.forest = _forest(seed) if candidate != "logistic" else None
        self.calibrator = PlattScaling()
        self.counts = [1, 1]  # Laplace-smoothed class counts: [good, bad]
        self._rng = random.Random(seed)  # noqa: S311 - resampling, not security
        self._table: tuple[float, dict[str, _Term]] | None = None

    # scoring

    def _terms(self) -> tuple[float, dict[str, _Term]]:
        """The linear part as (intercept, {name: (mean, 1 / std, weight, clip, bin steps)}), cached.

        Reading the scaler's statistics beside the weights makes one pass over
        the vector give both the logit and every feature's contribution,
        ``weight * clip((value - mean) / std)`` as the pipeline computes it when
        it learns (`ClippedScaler`); a feature's bin indicators fold into one
        step per bin (what the whole one-hot group adds to the logit when that
        bin is on), counted as the feature's own contribution. The table is
        rebuilt only after the model learned, which is rarer than scoring.
        """
        if self._table is None:
            scaler: Any = self.linear["scale"]
            lr: Any = self.linear["lr"]
            means, variances, weights = scaler.means, scaler.vars, lr.weights
            limit = getattr(scaler, "limit", math.inf)  # a checkpoint's plain scaler: no clip

            def term(name: str) -> tuple[float, float, float]:
                var, weight = variances.get(name, 0.0), weights.get(name, 0.0)
                if var > 0.0 and weight != 0.0:
                    return means[name], 1.0 / math.sqrt(var), weight
                return 0.0, 0.0, 0.0

            table: dict[str, _Term] = {}
            for name in variances:
                if ">" in name:
                    continue
                mean, inverse, weight = term(name)
                steps: tuple[float, ...] = ()
                cuts = BINS.get(name) if self.bins else None
                if cuts is not None:
                    # Each indicator adds w * clip((0 - m) * v) when off and
                    # w * clip((1 - m) * v) when on: the group's step for bin
                    # ``on`` is all of them off, with that one swapped for on.
                    group = [term(f"{name}>{i}") for i in range(len(cuts) + 1)]
                    off = [w * _clip(-m * v, limit) for m, v, w in group]
                    base = sum(off)
                    steps = tuple(
                        base - off[on] + w * _clip((1.0 - m) * v, limit)
                        for on, (m, v, w) in enumerate(group)
                    )
                if weight != 0.0 or steps:
                    table[name] = (mean, inverse, weight, limit, steps)
            self._table = (float(lr.intercept), table)
        return self._table

    def _linear_one(self, x: dict[str, float]) -> tuple[float, list[tuple[float, str]]]:
        """The linear part's probability and the positive contributions to its logit."""
        intercept, table = self._terms()
        z = intercept
        up: list[tuple[float, str]] = []
        for name, value in x.items():
            term = table.get(name)
            if term is not None:
                mean, inverse, weight, limit, steps = term
                contribution = weight * _clip((value - mean) * inverse, limit)
                if steps:
                    contribution += steps[_bin(value, BINS[name])]
                z += contribution
                if contribution > 0.0:
                    up.append((contribution, name))
        return _sigmoid(z), up

    def _raw(self, x: dict[str, float]) -> tuple[float, list[tuple[float, str]]]:
        p_linear, up = self._linear_one(x)
        if self.forest is None:
            return p_linear, up
        p_forest = float(self.forest.predict_proba_one(x).get(True, 0.0))
        if self.candidate == "forest":
            return p_forest, up
        return 0.5 * (p_forest + p_linear), up

    def heads_one(self, x: dict[str, float]) -> dict[str, float]:
        """The raw score each candidate would give, from this model's members.

        The members do not depend on the candidate (the linear model, the
        forest and the resampling draws are the same for the same seed), so an
        ``ensemble`` model holds the ``logistic`` and ``forest`` candidates too:
        the bench scores all three in one pass, each with its own calibrator.
        """
        p_linear = self._linear_one(x)[0]
        if self.forest is None:
            return {"logistic": p_linear}
        p_forest = float(self.forest.predict_proba_one(x).get(True, 0.0))
        return {
            "logistic": p_linear,
            "forest": p_forest,
            "ensemble": 0.5 * (p_forest + p_linear),
        }

    def raw_one(self, x: dict[str, float]) -> float:
        """The classifier's probability before calibration."""
        return self._raw(x)[0]

    def raw_uncached(self, x: dict[str, float]) -> float:
        """`raw_one` through the pipeline itself, without the scoring table.

        Learning changes the weights, so the table (`_terms`) is rebuilt on the
        next score; predicting each example of a run of labels through it would
        rebuild it once per label, several times the cost of this pass.
        """
        linear: Any = self.linear
        p_linear = float(linear.predict_proba_one(binned(x) if self.bins else x).get(True, 0.0))
        if self.forest is None:
            return p_linear
        p_forest = float(self.forest.predict_proba_one(x).get(True, 0.0))
        if self.candidate == "forest":
            return p_forest
        return 0.5 * (p_forest + p_linear)

    def predict_one(self, x: dict[str, float]) -> float:
        """P(bad within the horizon), calibrated when `calibrate` is on."""
        return self.calibrated(self._raw(x)[0])

    def calibrated(self, raw: float) -> float:
        """A `raw_one` score as `predict_one` gives it."""
        return self.calibrator.transform_one(raw, self.prior_offset()) if self.calibrate else raw

    def score_one(self, x: dict[str, float], top: int = 3) -> tuple[float, tuple[Reason, ...]]:
        """`predict_one` and `explain` together, for the price of one pass over ``x``."""
        raw, up = self._raw(x)
        p = self.calibrator.transform_one(raw, self.prior_offset()) if self.calibrate else raw
        return p, self._reasons(x, up, top)

    def explain(self, x: dict[str, float], top: int = 3) -> tuple[Reason, ...]:
        """The features that raised the score most: ``weight * scaled value`` of the linear part.

        Only positive contributions are reasons (a feature that lowered the risk
        does not explain a warning); at most ``top`` of them, largest first.
        """
        return self._reasons(x, self._linear_one(x)[1], top)

    @staticmethod
    def _reasons(x: dict[str, float], up: list[tuple[float, str]], top: int) -> tuple[Reason, ...]:
        if not top or not up:
            return ()
        up.sort(reverse=True)
        return tuple(Reason(name, x[name], c) for c, name in up[:top])

    # learning

    def prior_offset(self) -> float:
        """Log prior odds of bad: undoes balanced weighting (0 when weighting is off)."""
        return math.log(self.counts[1] / self.counts[0]) if self.balance else 0.0

    def weight(self, y: bool) -> float:
        """The balanced weight of class ``y`` given the classes seen so far."""
        if not self.balance:
            return 1.0
        good, bad = self.counts
        return (good + bad) / (2.0 * (bad if y else good))

    def learn_one(self, x: dict[str, float], y: bool, raw: float | None = None) -> None:
        """Learn one labelled example (calibrator first, on the score before learning).

        ``raw`` is `raw_one` of ``x`` when the caller has just computed it (the
        hub predicts every example before learning it, for its metrics), so it
        is not computed twice.
        """
        y = bool(y)
        if self.calibrate:
            if raw is None:
                raw = self.raw_uncached(x)
            self.calibrator.learn_one(raw, y, self.prior_offset())
        self.counts[y] += 1
        w = self.weight(y)
        self.linear.learn_one(binned(x) if self.bins else x, y, w=w)
        self._table = None
        if self.forest is not None:
            repeats = int(w)
            if self._rng.random() < w - repeats:
                repeats += 1
            for _ in range(repeats):
                self.forest.learn_one(x, y)
