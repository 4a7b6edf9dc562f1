"""The alert path's values: an alert (from a warning), a silence, a notification, an event.

All are frozen and serialize to plain dicts (``to_dict``/``from_dict``) because every one
of them is kept in Redis between restarts. Borrower and loan references are masked
here, once, so no template or channel can put them on a chat in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from sinks.alerts.matchers import Matcher, matches_all, parse_matcher

__all__ = [
    "SEVERITY_RANK",
    "Alert",
    "AlertEvent",
    "Notification",
    "Silence",
    "alert_from_warning",
    "mask_borrower",
    "mask_loan",
    "masked_labels",
    "scrub",
]

SEVERITY_RANK = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
# Phones (11 digits) and ID numbers (15/18) never leave in clear; the fraction of a
# decimal number (a share printed as 0.0833333333333333) is a number, not an identifier.
_LONG_DIGITS = re.compile(r"(?<!\d\.)(?<!\d)\d{11,}(?!\.\d)")
_ID_WITH_X = re.compile(r"(?<!\d\.)(?<!\d)\d{17}[0-9Xx]")


def mask_loan(loan_id: str) -> str:
    """Enough of a loan id to recognise it, not enough to type it into another system.

    >>> mask_loan("L-000123")
    'L-**0123'
    """
    if len(loan_id) <= 6:
        return "*" * len(loan_id)
    keep_head = 2
    return loan_id[:keep_head] + "*" * (len(loan_id) - keep_head - 4) + loan_id[-4:]


def masked_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Group labels fit for a message or a listing: a ``loan_id`` label is masked.

    >>> masked_labels({"team": "fraud", "loan_id": "L-000123"})
    {'team': 'fraud', 'loan_id': 'L-**0123'}
    """
    return {k: mask_loan(v) if k == "loan_id" else v for k, v in labels.items()}


def mask_borrower(borrower_id: str, key: bytes) -> str:
    """A keyed hash of the (already pseudonymous) borrower reference: stable, not reversible.

    >>> mask_borrower("bw-7f3a9c", b"k")
    'bw#a1e824ab15'
    """
    digest = hmac.new(key, borrower_id.encode(), hashlib.sha256).hexdigest()
    return "bw#" + digest[:10]


def scrub(text: str, loan_id: str) -> str:
    """A rule's message without the loan id in clear and without long digit runs.

    >>> scrub("L-000123 is 30 days past due; call 13812345678", "L-000123")
    'L-**0123 is 30 days past due; call ***********'
    >>> scrub("diverted_share=0.0833333333333333, id 11010519491231002X", "")
    'diverted_share=0.0833333333333333, id ******************'
    >>> scrub("tel.13812345678", "")
    'tel.***********'
    """
    text = text.replace(loan_id, mask_loan(loan_id)) if loan_id else text
    text = _ID_WITH_X.sub(lambda m: "*" * len(m.group(0)), text)
    return _LONG_DIGITS.sub(lambda m: "*" * len(m.group(0)), text)


@dataclass(frozen=True, slots=True)
class Alert:
    """One warning as the alert path sees it: labels to route on, and what a message shows."""

    warning_id: str
    status: str  # open | resolved
    labels: Mapping[str, str]
    loan_ref: str
    borrower_ref: str
    summary: str
    severity: str
    dpd: int
    bucket: str
    klass: str
    reasons: tuple[str, ...]
    event_time: str

    @property
    def loan_id(self) -> str:
        return self.labels.get("loan_id", "")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["labels"] = dict(self.labels)
        out["reasons"] = list(self.reasons)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Alert:
        return cls(**{**raw, "labels": dict(raw["labels"]), "reasons": tuple(raw["reasons"])})


def _reason_code(reason: Any) -> str:
    if isinstance(reason, Mapping):
        return f"{reason.get('name')}={reason.get('value')}"
    return str(reason)


def alert_from_warning(body: Mapping[str, Any], key: bytes) -> Alert:
    """A docs/warnings.md warning as an alert. Raises KeyError/TypeError on a bad body.

    ``product`` and ``region`` are labels when the warning carries them (top level, or a
    ``loan.product``/``loan.region`` reason); the v1 contract does not require them.
    """
    reasons = body.get("reasons") or []
    by_name = {r.get("name"): r.get("value") for r in reasons if isinstance(r, Mapping)}
    loan_id = str(body["loan_id"])
    labels = {
        "team": str(body["owner_team"]),
        "severity": str(body["severity"]),
        "rule": str(body["rule_id"]),
        "loan_id": loan_id,
        "bucket": str(body["bucket"]),
        "klass": str(body["klass"]),
        "status": str(body["status"]),
    }
    for name in ("product", "region"):
        value = body.get(name, by_name.get(f"loan.{name}"))
        if value is not None:
            labels[name] = str(value)
    if labels["severity"] not in SEVERITY_RANK:
        raise ValueError(f"unknown severity {labels['severity']!r}")
    if labels["status"] not in ("open", "resolved"):
        raise ValueError(f"unknown status {labels['status']!r}")
    dpd = body["dpd"]
    if not isinstance(dpd, int) or isinstance(dpd, bool):
        raise TypeError("dpd must be an integer")
    return Alert(
        warning_id=str(body["warning_id"]),
        status=labels["status"],
        labels=labels,
        loan_ref=mask_loan(loan_id),
        borrower_ref=mask_borrower(str(body["borrower_id"]), key),
        summary=scrub(str(body.get("message", "")), loan_id),
        severity=labels["severity"],
        dpd=dpd,
        bucket=labels["bucket"],
        klass=labels["klass"],
        reasons=tuple(scrub(_reason_code(r), loan_id) for r in reasons),
        event_time=str(body["event_time"]),
    )


@dataclass(frozen=True, slots=True)
class Silence:
    """Alertmanager's silence: alerts matching every matcher are not notified in [starts, ends)."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    author: str
    comment: str

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.active(now) and matches_all(self.matchers, labels)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": [str(m) for m in self.matchers],
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "author": self.author,
            "comment": self.comment,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Silence:
        return cls(
            id=str(raw["id"]),
            matchers=tuple(parse_matcher(m) for m in raw["matchers"]),
            starts_at=datetime.fromisoformat(raw["starts_at"]),
            ends_at=datetime.fromisoformat(raw["ends_at"]),
            author=str(raw["author"]),
            comment=str(raw["comment"]),
        )


@dataclass(frozen=True, slots=True)
class Notification:
    """One message the engine decided to send to one receiver; the outbox holds these.

    ``id`` is deterministic (group, sequence number), so a notification re-queued after a
    crash is recognised by the sent ledger and not sent twice.
    """

    id: str
    receiver: str
    group_ref: str
    kind: str  # firing | repeat | resolved | escalation
    firing: tuple[Alert, ...]
    resolved: tuple[Alert, ...]
    acked: tuple[str, ...]  # warning ids among ``firing`` already acknowledged
    level: int  # escalation level (0: the route's own receiver)
    created_at: datetime
    group_labels: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "receiver": self.receiver,
                "group_ref": self.group_ref,
                "kind": self.kind,
                "firing": [a.to_dict() for a in self.firing],
                "resolved": [a.to_dict() for a in self.resolved],
                "acked": list(self.acked),
                "level": self.level,
                "created_at": self.created_at.isoformat(),
                "group_labels": dict(self.group_labels),
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> Notification:
        raw = orjson.loads(data)
        return cls(
            id=raw["id"],
            receiver=raw["receiver"],
            group_ref=raw["group_ref"],
            kind=raw["kind"],
            firing=tuple(Alert.from_dict(a) for a in raw["firing"]),
            resolved=tuple(Alert.from_dict(a) for a in raw["resolved"]),
            acked=tuple(raw["acked"]),
            level=int(raw["level"]),
            created_at=datetime.fromisoformat(raw["created_at"]),
            group_labels=dict(raw.get("group_labels", {})),
        )


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A state change of an alert, for the analysts (ClickHouse ``alert_events``)."""

    kind: str  # sent | acked | escalated | silenced | inhibited | resolved
    warning_id: str
    group_ref: str
    at: datetime
    receiver: str = ""
    actor: str = ""
    level: int = 0
    notification_id: str = ""
    loan_id: str = ""
    rule: str = ""
    team: str = ""
    severity: str = ""
    detail: str = ""

    @property
    def event_id(self) -> str:
        """Deterministic: a replayed event collapses into its first copy."""
        text = "\x1f".join(
            (self.kind, self.warning_id, self.group_ref, self.notification_id, self.at.isoformat())
        )
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def to_json(self) -> bytes:
        out = asdict(self)
        out["at"] = self.at.astimezone(UTC).isoformat()
        out["event_id"] = self.event_id
        return orjson.dumps(out)

    @classmethod
    def from_json(cls, data: bytes | str) -> AlertEvent:
        raw = orjson.loads(data)
        raw.pop("event_id", None)
        raw["at"] = datetime.fromisoformat(raw["at"])
        return cls(**raw)

    @classmethod
    def of(cls, kind: str, alert: Alert, group_ref: str, at: datetime, **extra: Any) -> AlertEvent:
        return cls(
            kind=kind,
            warning_id=alert.warning_id,
            group_ref=group_ref,
            at=at,
            loan_id=alert.loan_id,
            rule=alert.labels.get("rule", ""),
            team=alert.labels.get("team", ""),
            severity=alert.severity,
            **extra,
        )
