"""The demo's scores against the simulator's ground truth: which rules found which loans.

Scoring is loan-level: a loan counts as *flagged* for a signal when any of the
signal's rules (`SIGNAL_RULES`) opened a warning on it during the run, and as
*labelled* when its label's ``expected_signals`` holds the signal. Everything
here is pure (no Kafka, no terminal) and unit-tested with hand-built labels and
warnings.
"""

from __future__ import annotations

import statistics
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import orjson

__all__ = [
    "MODEL_SIGNAL_RULES",
    "SEVERITIES",
    "SIGNAL_RULES",
    "UNSCORED_SIGNALS",
    "SignalScore",
    "WarningTally",
    "read_labels",
    "score_signals",
    "unscored_counts",
]

SIGNAL_RULES: Final[dict[str, tuple[str, ...]]] = {
    "dpd_1": ("dpd_1",),
    "dpd_30": ("dpd_30",),
    "dpd_60": ("dpd_60",),
    "dpd_90": ("dpd_90",),
    "first_payment_default": ("first_payment_default",),
    "repeated_late": ("late_then_cured",),
    "partial_payment": ("partial_payment", "care_partial_payment"),
    "repayment_reversed": ("repayment_reversed",),
    "third_party_payer": ("third_party_payer",),
    "broken_promise": ("broken_promise",),
    "income_stopped": ("salary_stopped", "inflow_stopped", "care_salary_stopped"),
    "balance_drop": ("balance_drop_before_due",),
    "fund_diversion": ("fund_diversion",),
    "multi_lending": ("multi_lending",),
    "inquiry_surge": ("inquiry_surge",),
    "external_delinquency": ("bureau_delinquency",),
    "lawsuit": ("lawsuit_or_enforcement",),
    "contact_change_near_miss": ("contact_change_near_miss",),
    "hardship": ("note_hardship",),
    "refusal": ("note_refusal",),
    "unreachable": ("note_unreachable",),
    "write_off": ("written_off",),
}
"""Ground-truth signal (docs/simulator.md) -> the rules of rules/packs/default.yaml that detect it.

Mostly one to one. Approximate pairs: ``repeated_late`` (two or more installments
late) is watched by ``late_then_cured`` (late and caught up, twice in a row or
three times), and ``income_stopped`` by the salary and inflow rules, including the
customer-care variant. The DPD rules apply the policy's grace period and the
labels none, so a loan one or two days late may be labelled ``dpd_1`` and never
flagged: that shows as missed, by design.
"""

MODEL_SIGNAL_RULES: Final[dict[str, tuple[str, ...]]] = {
    "dpd_30": ("high_pd",),
    "dpd_90": ("high_pd",),
    "write_off": ("high_pd",),
    "fund_diversion": ("anomalous_event",),
}
"""Ground-truth signals the online models should see coming, and the model rules.

The early-warning PD (``high_pd``) is judged against the loans that later went
30 and 90 days past due or were written off: a negative lag means it warned
before the label. The anomaly rule is judged against fund diversion, the
profile whose money moves are the least like the book's. Scored apart from
``SIGNAL_RULES`` because a model warning is a forecast, not a detection.
"""

UNSCORED_SIGNALS: Final[tuple[str, ...]] = ("restructured",)
"""Signals no rule of the default pack watches.

A restructuring is the lender's own decision, already known to it; the rule that
matters after it (``restructured_late_again``) watches what the borrower does next.
"""

_LATEST: Final = 12
SEVERITIES: Final = ("critical", "high", "medium", "low", "info")
"""Warning severities, most urgent first: the order the counts are shown in."""


@dataclass(frozen=True, slots=True)
class SignalScore:
    """How well the rules for one ground-truth signal found the loans that showed it."""

    signal: str
    rules: tuple[str, ...]
    labelled: int
    """Loans whose label shows the signal."""
    flagged: int
    """Loans on which one of ``rules`` opened a warning."""
    detected: int
    """Loans both labelled and flagged."""
    median_lag_days: float | None = None
    """Median over detected loans of (day the first matching warning's fact happened
    - day the label says the signal became visible); negative means earlier."""

    @property
    def missed(self) -> int:
        return self.labelled - self.detected

    @property
    def false_alarms(self) -> int:
        return self.flagged - self.detected

    @property
    def recall(self) -> float | None:
        return self.detected / self.labelled if self.labelled else None

    @property
    def precision(self) -> float | None:
        return self.detected / self.flagged if self.flagged else None

    def to_json(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "rules": list(self.rules),
            "labelled": self.labelled,
            "flagged": self.flagged,
            "detected": self.detected,
            "missed": self.missed,
            "false_alarms": self.false_alarms,
            "recall": _round(self.recall),
            "precision": _round(self.precision),
            "median_lag_days": self.median_lag_days,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def read_labels(path: Path) -> list[dict[str, Any]]:
    """The simulator's label file: one JSON object per loan."""
    with path.open("rb") as lines:
        return [orjson.loads(line) for line in lines if line.strip()]


def _local_day(moment: str | None, zone: ZoneInfo) -> date | None:
    if not moment:
        return None
    try:
        return datetime.fromisoformat(moment).astimezone(zone).date()
    except ValueError:
        return None


def _opened(
    warnings: Iterable[Mapping[str, Any]], zone: ZoneInfo
) -> dict[str, dict[str, date | None]]:
    """loan_id -> rule_id -> earliest local day of an opened warning's fact (None if unknown)."""
    out: dict[str, dict[str, date | None]] = {}
    for warning in warnings:
        if warning.get("status") != "open":
            continue
        loan, rule = warning.get("loan_id"), warning.get("rule_id")
        if not isinstance(loan, str) or not isinstance(rule, str):
            continue
        day = _local_day(warning.get("event_time"), zone)
        rules = out.setdefault(loan, {})
        if rule not in rules:
            rules[rule] = day
        else:
            known = rules[rule]
            if day is not None and (known is None or day < known):
                rules[rule] = day
    return out


def score_signals(
    labels: Iterable[Mapping[str, Any]],
    warnings: Iterable[Mapping[str, Any]],
    *,
    mapping: Mapping[str, tuple[str, ...]] = SIGNAL_RULES,
    zone: str = "Asia/Shanghai",
) -> list[SignalScore]:
    """Per signal of ``mapping``: labelled, flagged and detected loans, in mapping order.

    Only loans that have a label are scored; warnings about other loans are
    ignored. Only ``open`` warnings count (a ``resolved`` one closes an episode
    that was already counted). Repeated warnings (at-least-once delivery) count once.
    """
    tz = ZoneInfo(zone)
    by_loan = {str(label["loan_id"]): label for label in labels}
    opened = {loan: rules for loan, rules in _opened(warnings, tz).items() if loan in by_loan}
    scores: list[SignalScore] = []
    for signal_name, rules in mapping.items():
        labelled = {
            loan
            for loan, label in by_loan.items()
            if signal_name in (label.get("expected_signals") or ())
        }
        flagged = {loan for loan, seen in opened.items() if any(rule in seen for rule in rules)}
        detected = labelled & flagged
        lags: list[int] = []
        for loan in detected:
            first_seen = (by_loan[loan].get("signals_first_seen") or {}).get(signal_name)
            days = [d for rule, d in opened[loan].items() if rule in rules and d is not None]
            if first_seen and days:
                lags.append((min(days) - date.fromisoformat(first_seen)).days)
        scores.append(
            SignalScore(
                signal=signal_name,
                rules=tuple(rules),
                labelled=len(labelled),
                flagged=len(flagged),
                detected=len(detected),
                median_lag_days=float(statistics.median(lags)) if lags else None,
            )
        )
    return scores


def unscored_counts(
    labels: Iterable[Mapping[str, Any]], mapping: Mapping[str, tuple[str, ...]] = SIGNAL_RULES
) -> dict[str, int]:
    """Labelled loans per signal that no rule of ``mapping`` watches."""
    counts: Counter[str] = Counter()
    for label in labels:
        for signal_name in label.get("expected_signals") or ():
            if signal_name not in mapping:
                counts[signal_name] += 1
    return dict(sorted(counts.items()))


@dataclass
class WarningTally:
    """Everything the live view and the scores need from the warnings received."""

    received: int = 0
    undecodable: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    by_severity: Counter[str] = field(default_factory=Counter)
    latest: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=_LATEST))
    kept: list[dict[str, Any]] = field(default_factory=list)
    """The fields scoring reads, of every warning received."""

    def add(self, raw: bytes | None) -> None:
        self.received += 1
        try:
            warning = orjson.loads(raw or b"")
        except orjson.JSONDecodeError:
            self.undecodable += 1
            return
        if not isinstance(warning, dict):
            self.undecodable += 1
            return
        status = str(warning.get("status", "?"))
        self.by_status[status] += 1
        if status == "open":
            self.by_rule[str(warning.get("rule_id", "?"))] += 1
            self.by_severity[str(warning.get("severity", "?"))] += 1
        self.latest.append(warning)
        self.kept.append(
            {
                key: warning.get(key)
                for key in ("loan_id", "rule_id", "status", "severity", "event_time")
            }
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "undecodable": self.undecodable,
            "by_status": dict(sorted(self.by_status.items())),
            "opened_by_rule": dict(self.by_rule.most_common()),
            "opened_by_severity": {s: self.by_severity[s] for s in SEVERITIES},
        }
