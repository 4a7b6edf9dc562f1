"""Delinquency bucket and five-category class: what DPD and behaviour imply.

The bucket is a pure function of DPD. The class is not: regulators ask that a
loan moves *down* at once but *up* only after sustained good behaviour, and that
a restructured loan stays at least Special mention while it is observed. So the
class depends on where the loan stands now (``current``), and these functions
say where it goes next; the loan state keeps the result and the streak that
earns an upgrade.

Examples
--------
>>> from rules.policy import load_policy
>>> policy = load_policy()
>>> bucket_of(31, policy)
(2, 'M2')
>>> KLASSES[klass_of_dpd(91, policy)]
'substandard'

A substandard loan that caught up stays substandard until it has paid three
installments on time in a row:

>>> next_klass(2, dpd=0, observed=False, good_streak=2, policy=policy)
2
>>> next_klass(2, dpd=0, observed=False, good_streak=3, policy=policy)
0
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from rules.policy import KLASSES, Policy

__all__ = ["KLASSES", "bucket_of", "klass_of_dpd", "klass_target", "next_klass"]


def bucket_of(dpd: int, policy: Policy) -> tuple[int, str]:
    """Index and label of the bucket holding ``dpd``."""
    index = bisect_left(policy.bucket_limits, dpd)
    return index, policy.bucket_labels[index]


def klass_of_dpd(dpd: int, policy: Policy) -> int:
    """Class index DPD alone implies: the last class whose starting DPD is reached."""
    return bisect_right(policy.klass_starts, dpd)


def klass_target(dpd: int, observed: bool, policy: Policy) -> int:
    """The class the loan deserves now: by DPD, floored while a restructuring is observed."""
    target = bisect_right(policy.klass_starts, dpd)
    if observed and target < policy.klass_floor:
        return policy.klass_floor
    return target


def next_klass(current: int, *, dpd: int, observed: bool, good_streak: int, policy: Policy) -> int:
    """The class after this step.

    A worse target applies at once; a better one only once ``good_streak``
    consecutive installments were paid by their cut-off (the policy's
    ``upgrade_after_on_time``). The upgrade goes straight to the target: the
    streak is the evidence, and holding the loan one class at a time would make
    a cured loan's class depend on how often the clock happened to tick.
    """
    target = klass_target(dpd, observed, policy)
    if target > current:
        return target
    if target < current and good_streak >= policy.classification.upgrade_after_on_time:
        return target
    return current
