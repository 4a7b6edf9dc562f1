"""Looking up vocabulary names, with a "did you mean" for the near misses.

A typo in a rule (``loan.dpdd``) must fail at load with the fix in the
message: whoever edits a pack at 2 a.m. should not have to open the
vocabulary to find the right spelling.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from rules.lang.exceptions import ExpressionError
from rules.vocabulary import Var

__all__ = ["resolve", "suggest"]


def suggest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``name``, if any is close enough.

    A bare field (``dpd``) finds its qualified form (``loan.dpd``); otherwise
    the nearest spelling wins.

    >>> suggest("loan.dpdd", ["loan.dpd", "loan.max_dpd"])
    'loan.dpd'
    >>> suggest("dpd", ["loan.dpd", "features.balance"])
    'loan.dpd'
    >>> suggest("zzz", ["loan.dpd"]) is None
    True
    """
    known = sorted(known)
    leaf = name.rsplit(".", 1)[-1]
    same_leaf = [k for k in known if k.rsplit(".", 1)[-1] == leaf and k != name]
    if len(same_leaf) == 1:
        return same_leaf[0]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return close[0] if close else None


def resolve(
    name: str, vocabulary: Mapping[str, Var], *, text: str = "", column: int | None = None
) -> Var:
    """The `Var` for ``name``, or an `ExpressionError` that suggests a fix."""
    var = vocabulary.get(name)
    if var is not None:
        return var
    hint = suggest(name, vocabulary)
    reason = f"unknown name {name}" + (f" (did you mean {hint}?)" if hint else "")
    raise ExpressionError(reason, text=text, column=column)
