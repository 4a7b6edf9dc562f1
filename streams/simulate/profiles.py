"""Who the simulated borrowers are, how often each kind occurs, and what signals they give.

A behaviour profile is the hidden truth a monitor tries to infer from the
stream; `Signal` is the stable vocabulary the ground-truth labels use, so a
demo can line up detected episodes against what the simulator actually did.
The probabilities live here, in one table, so the docs and the generator
cannot disagree about the mix.

>>> import random
>>> pick_profile(random.Random(1)) in PROFILE_WEIGHTS
True
>>> round(sum(PROFILE_WEIGHTS.values()), 9)
1.0
"""

from __future__ import annotations

import random
from enum import StrEnum
from typing import Final

__all__ = [
    "DIVERSION_CATEGORIES",
    "PROFILE_WEIGHTS",
    "Profile",
    "Signal",
    "pick_profile",
]


class Profile(StrEnum):
    """The behaviour a simulated borrower follows for the life of the loan."""

    GOOD_PAYER = "good_payer"
    LATE_PAYER = "late_payer"
    HARDSHIP_CURE = "hardship_cure"
    STRATEGIC_DEFAULT = "strategic_default"
    FUND_DIVERSION = "fund_diversion"
    MULTI_LENDER = "multi_lender"
    FRAUD = "fraud"


PROFILE_WEIGHTS: Final[dict[Profile, float]] = {
    Profile.GOOD_PAYER: 0.55,
    Profile.LATE_PAYER: 0.15,
    Profile.HARDSHIP_CURE: 0.08,
    Profile.STRATEGIC_DEFAULT: 0.06,
    Profile.FUND_DIVERSION: 0.06,
    Profile.MULTI_LENDER: 0.07,
    Profile.FRAUD: 0.03,
}
"""Probability that a loan gets each profile (a book skewed towards trouble, for demos)."""

_PROFILES: Final = tuple(PROFILE_WEIGHTS)
_CUMULATIVE: Final = tuple(
    sum(PROFILE_WEIGHTS[p] for p in _PROFILES[: i + 1]) for i in range(len(_PROFILES))
)


def pick_profile(rng: random.Random) -> Profile:
    """Draw a profile with `PROFILE_WEIGHTS`, from the caller's RNG (never the global one)."""
    return rng.choices(_PROFILES, cum_weights=_CUMULATIVE)[0]


class Signal(StrEnum):
    """Ground-truth signal names; stable, because label files outlive code versions.

    Each is set only when the stream *shows* it inside the simulated period:
    DPD signals from a payment ledger replayed over the emitted events, the
    others when their characteristic event is emitted. docs/simulator.md
    defines each one.
    """

    DPD_1 = "dpd_1"
    DPD_30 = "dpd_30"
    DPD_60 = "dpd_60"
    DPD_90 = "dpd_90"
    FIRST_PAYMENT_DEFAULT = "first_payment_default"
    REPEATED_LATE = "repeated_late"
    PARTIAL_PAYMENT = "partial_payment"
    REPAYMENT_REVERSED = "repayment_reversed"
    THIRD_PARTY_PAYER = "third_party_payer"
    BROKEN_PROMISE = "broken_promise"
    INCOME_STOPPED = "income_stopped"
    BALANCE_DROP = "balance_drop"
    HARDSHIP = "hardship"
    REFUSAL = "refusal"
    UNREACHABLE = "unreachable"
    FUND_DIVERSION = "fund_diversion"
    MULTI_LENDING = "multi_lending"
    INQUIRY_SURGE = "inquiry_surge"
    EXTERNAL_DELINQUENCY = "external_delinquency"
    LAWSUIT = "lawsuit"
    CONTACT_CHANGE_NEAR_MISS = "contact_change_near_miss"
    RESTRUCTURED = "restructured"
    WRITE_OFF = "write_off"


DIVERSION_CATEGORIES: Final = ("securities", "property", "other_lender")
"""Where diverted loan money goes (资金挪用): investments, property, repaying other lenders."""
