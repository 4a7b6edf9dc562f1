"""Amounts the simulated people move: whole yuan, in integer fen.

>>> whole_yuan(1234.5), whole_yuan(-5)
(1200, 0)
>>> import random
>>> parts = split(random.Random(0), 100_000, 3)
>>> len(parts), all(p > 0 and p % YUAN == 0 for p in parts)
(3, True)
"""

from __future__ import annotations

import random
from typing import Final

__all__ = ["YUAN", "split", "whole_yuan"]

YUAN: Final = 100
"""One yuan in fen, the minor unit every amount is counted in."""


def whole_yuan(amount: float) -> int:
    """Round to whole yuan, in fen: simulated people move round sums."""
    return max(0, round(amount / YUAN)) * YUAN


def split(rng: random.Random, total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` random whole-yuan amounts, none zero (fewer parts if too small)."""
    if total < YUAN:
        return []
    parts = max(1, min(parts, total // YUAN))
    weights = [rng.uniform(0.5, 1.5) for _ in range(parts)]
    scale = sum(weights)
    return [max(YUAN, whole_yuan(total * w / scale)) for w in weights]
