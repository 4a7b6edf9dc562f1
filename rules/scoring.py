"""How model scores reach the rules: a scorer the engine calls inside a step.

Rules read ``model.pd`` and ``model.anomaly`` about the loan *as this step left
it*, so the engine asks for scores after the event (or tick) is applied and the
clock advanced, and before any rule is judged. The core stays pure: a scorer is
any callable, and the models package supplies one (the worker builds it from a
`models.hub.ModelHub`). A warning whose rule used a model score carries the
score's reason codes and model version, so a reader sees why the model said so.

>>> card = ScoreCard({"pd": 0.42}, (ModelReason("loan.dpd", 31.0, 0.8),), "pd-logistic.10")
>>> card.values["pd"], card.reasons[0].name
(0.42, 'loan.dpd')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rules.events import Event
    from rules.loan import LoanState

__all__ = ["ModelReason", "ScoreCard", "Scorer"]


@dataclass(frozen=True, slots=True)
class ModelReason:
    """A feature that pushed a score: its name, its value, and how far it pushed."""

    name: str
    value: float
    contribution: float


@dataclass(frozen=True, slots=True)
class ScoreCard:
    """What the models say about a loan at one step."""

    values: Mapping[str, float]
    """The ``model.*`` names rules read, without the prefix (``pd``, ``anomaly``, ...)."""
    reasons: tuple[ModelReason, ...] = ()
    """Reason codes of the PD, strongest first."""
    version: str | None = None
    """The model state that scored (names the checkpoint that made the score)."""


class Scorer(Protocol):
    """Scores a loan after a step was applied (``event`` is ``None`` on a clock tick)."""

    def __call__(self, loan: LoanState, event: Event | None) -> ScoreCard: ...
