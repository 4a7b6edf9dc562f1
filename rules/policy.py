"""The delinquency policy: grace, buckets, classification, waterfall, memory bounds.

Policy is configuration, not code (architecture principle 6): a frozen pydantic
model read from YAML and validated once at load, so a wrong file stops a worker
at start with a message naming the key and its line, never mid-stream. The
default ships in ``rules/policies/default.yaml``.

The hot path reads a handful of derived tables (bucket limits, class
thresholds, the time zone); they are computed once per policy object and cached
on it, so a loan step pays an attribute read, not a rebuild.

Examples
--------
>>> policy = load_policy()
>>> policy.grace_days, policy.bucket_labels[:3]
(3, ('M0', 'M1', 'M2'))
>>> policy.bucket_index(0), policy.bucket_index(30), policy.bucket_index(31)
(0, 1, 2)
"""

from __future__ import annotations

import sys
from bisect import bisect_left, bisect_right
from datetime import timedelta
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import model_validator as _model_validator

from rules.events import CounterpartyCategory
from rules.exceptions import RulesError
from rules.yaml_config import validate_yaml

__all__ = [
    "COMPONENTS",
    "DEFAULT_POLICY",
    "KLASSES",
    "Bucket",
    "Classification",
    "FeatureParams",
    "Policy",
    "PolicyError",
    "Waterfall",
    "load_policy",
    "parse_policy",
    "read_text",
]

KLASSES: Final = ("normal", "special_mention", "substandard", "doubtful", "loss")
"""The five categories, best first; a class's index is its position here."""

COMPONENTS: Final = ("fees", "interest", "principal")
"""Components of an installment; the waterfall orders these."""

DEFAULT_POLICY: Final = "rules/policies/default.yaml"
"""Where the default policy ships (package data of ``config``)."""

Component = Literal["fees", "interest", "principal"]
KlassName = Literal["normal", "special_mention", "substandard", "doubtful", "loss"]

_UNBOUNDED: Final = sys.maxsize


class PolicyError(RulesError):
    """A policy file is wrong; the message names the file, the key and its line."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Bucket(_Frozen):
    """One delinquency bucket: loans with DPD up to ``max_dpd`` (``None``: no limit)."""

    label: str = Field(pattern=r"^\S{1,16}$")
    max_dpd: int | None = Field(ge=0, le=100_000)


class Classification(_Frozen):
    """Five-category thresholds and the rules for moving between classes."""

    special_mention_from_dpd: int = Field(ge=1, le=100_000)
    substandard_over_dpd: int = Field(ge=1, le=100_000)
    doubtful_over_dpd: int = Field(ge=1, le=100_000)
    loss_over_dpd: int = Field(ge=1, le=100_000)
    upgrade_after_on_time: int = Field(ge=1, le=120)
    restructured_floor: KlassName

    @_model_validator(mode="after")
    def _thresholds_rise(self) -> Classification:
        starts = self.class_starts
        if list(starts) != sorted(set(starts)):
            raise ValueError(
                "each class must start at a higher DPD than the one before: "
                f"special_mention {starts[0]}, substandard {starts[1]}, "
                f"doubtful {starts[2]}, loss {starts[3]}"
            )
        return self

    @property
    def class_starts(self) -> tuple[int, int, int, int]:
        """First DPD of special_mention, substandard, doubtful and loss."""
        return (
            self.special_mention_from_dpd,
            self.substandard_over_dpd + 1,
            self.doubtful_over_dpd + 1,
            self.loss_over_dpd + 1,
        )


class Waterfall(_Frozen):
    """How a repayment is split over installments and their components."""

    mode: Literal["installment", "component"]
    components: tuple[Component, ...]

    @field_validator("components")
    @classmethod
    def _each_component_once(cls, value: tuple[Component, ...]) -> tuple[Component, ...]:
        if sorted(value) != sorted(COMPONENTS):
            raise ValueError(f"must list each of {', '.join(COMPONENTS)} exactly once")
        return value


class FeatureParams(_Frozen):
    """Parameters of the behaviour features."""

    large_outflow_bps: int = Field(ge=1, le=10_000)
    diversion_window_days: int = Field(ge=1, le=3660)
    diversion_categories: tuple[CounterpartyCategory, ...] = Field(min_length=1)


class Policy(_Frozen):
    """Everything the loan state and the clock need to judge a loan."""

    time_zone: str
    grace_days: int = Field(ge=0, le=365)
    buckets: tuple[Bucket, ...] = Field(min_length=2, max_length=64)
    classification: Classification
    waterfall: Waterfall
    late_event_window_days: int = Field(ge=0, le=365)
    max_event_lead_hours: int = Field(default=24, ge=0, le=24 * 366)
    promise_grace_days: int = Field(ge=0, le=365)
    seen_event_ids: int = Field(ge=1, le=4096)
    ledger_size: int = Field(ge=4, le=4096)
    wake_at_dpd: tuple[int, ...] = Field(default=(), max_length=64)
    features: FeatureParams

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America", a folder
            raise ValueError(f"unknown time zone {value!r}; use an IANA name") from None
        return value

    @field_validator("buckets")
    @classmethod
    def _buckets_cover_every_dpd(cls, value: tuple[Bucket, ...]) -> tuple[Bucket, ...]:
        if value[0].max_dpd != 0:
            raise ValueError("the first bucket must be the current one, max_dpd 0")
        if value[-1].max_dpd is not None:
            raise ValueError("the last bucket must be open-ended, max_dpd null")
        limits = [b.max_dpd for b in value[:-1]]
        if None in limits:
            raise ValueError("only the last bucket may have max_dpd null")
        if limits != sorted(set(limits)):  # type: ignore[type-var]
            raise ValueError("max_dpd must increase from bucket to bucket")
        labels = [b.label for b in value]
        if len(set(labels)) != len(labels):
            raise ValueError("bucket labels must be unique")
        return value

    @field_validator("wake_at_dpd")
    @classmethod
    def _positive_marks(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(mark < 1 for mark in value):
            raise ValueError("DPD marks must be 1 or more")
        return tuple(sorted(set(value)))

    # Derived tables for the hot path, built once per policy object.

    @cached_property
    def zone(self) -> ZoneInfo:
        """The time zone of cut-offs, as an object."""
        return ZoneInfo(self.time_zone)

    @cached_property
    def bucket_labels(self) -> tuple[str, ...]:
        return tuple(b.label for b in self.buckets)

    @cached_property
    def bucket_limits(self) -> tuple[int, ...]:
        """Upper DPD of each bucket; the open-ended last one gets ``sys.maxsize``."""
        return tuple(_UNBOUNDED if b.max_dpd is None else b.max_dpd for b in self.buckets)

    @cached_property
    def klass_starts(self) -> tuple[int, ...]:
        return self.classification.class_starts

    @cached_property
    def klass_floor(self) -> int:
        """Index of the class restructured loans keep during observation."""
        return KLASSES.index(self.classification.restructured_floor)

    @cached_property
    def component_order(self) -> tuple[int, ...]:
        """The waterfall as indexes into `COMPONENTS`."""
        return tuple(COMPONENTS.index(c) for c in self.waterfall.components)

    @cached_property
    def late_window_us(self) -> int:
        return self.late_event_window_days * 86_400_000_000

    @cached_property
    def max_lead(self) -> timedelta:
        """How far past the worker's clock an event may be dated (`max_event_lead_hours`)."""
        return timedelta(hours=self.max_event_lead_hours)

    @cached_property
    def by_installment(self) -> bool:
        """True for the oldest-installment-first waterfall."""
        return self.waterfall.mode == "installment"

    @cached_property
    def upgrade_after(self) -> int:
        return self.classification.upgrade_after_on_time

    @cached_property
    def feature_params(self) -> tuple[int, frozenset[str], int]:
        """(large outflow bps, diversion categories, diversion window days)."""
        params = self.features
        return (
            params.large_outflow_bps,
            frozenset(params.diversion_categories),
            params.diversion_window_days,
        )

    def bucket_index(self, dpd: int) -> int:
        """Bucket of a DPD: the first whose ``max_dpd`` is at least ``dpd``."""
        return bisect_left(self.bucket_limits, dpd)

    def klass_for_dpd(self, dpd: int) -> int:
        """Class index that DPD alone implies (before floors and the upgrade rule)."""
        return bisect_right(self.klass_starts, dpd)


def load_policy(path: Path | str | None = None) -> Policy:
    """Read and validate a policy; ``None`` reads the default shipped with the package.

    Raises `PolicyError` naming the file, the key and its line for anything
    wrong, so a bad deployment fails at start with a message a person can act on.
    """
    if path is None:
        text = (resources.files("rules") / "policies" / "default.yaml").read_text("utf-8")
        source = DEFAULT_POLICY
    else:
        source = str(path)
        text = read_text(Path(path))
    return parse_policy(text, source)


def read_text(path: Path) -> str:
    """A policy file's text; a missing file or one not in UTF-8 is a `PolicyError`."""
    try:
        return path.read_text("utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: not UTF-8: {exc.reason} at byte {exc.start}") from None


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Validate policy YAML given as text (``source`` names it in errors)."""
    return validate_yaml(Policy, text, source, PolicyError, "policy keys")
