"""Notifications as text people read on a phone: zh-CN or English, markdown, masked refs.

One message may carry several notifications (a receiver over its rate limit gets
its queue batched), so rendering takes a sequence. Only masked references reach
here (`sinks.alerts.model.Alert`): the templates cannot leak an identity.

>>> from datetime import UTC, datetime
>>> from sinks.alerts.model import Notification
>>> n = Notification("ab12-1", "ops", "ab12", "resolved", (), (), (), 0,
...     datetime(2026, 3, 4, tzinfo=UTC))
>>> render([n], "en").title
'[RESOLVED] 0 firing, 0 resolved'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sinks.alerts.model import Alert, Notification, masked_labels

__all__ = ["Message", "render"]

_TEXT = {
    "en": {
        "firing": "FIRING",
        "repeat": "STILL FIRING",
        "resolved": "RESOLVED",
        "escalation": "ESCALATED",
        "title": "{n_firing} firing, {n_resolved} resolved",
        "level": "escalation level {level}",
        "alert": "loan {loan} · borrower {borrower} · DPD {dpd} · {bucket} · {klass}",
        "reasons": "reasons",
        "acked": "acked",
        "ack": "Acknowledge: `loanwatch alerts ack {ref}`",
        "link": "or open {url}",
        "resolved_h": "Resolved",
        "more": "... and {n} more",
    },
    "zh-CN": {
        "firing": "告警",
        "repeat": "持续告警",
        "resolved": "已恢复",
        "escalation": "升级",
        "title": "{n_firing} 条告警，{n_resolved} 条已恢复",
        "level": "升级第 {level} 级",
        "alert": "借据 {loan} · 借款人 {borrower} · 逾期 {dpd} 天 · {bucket} · {klass}",
        "reasons": "原因",
        "acked": "已认领",
        "ack": "认领：`loanwatch alerts ack {ref}`",
        "link": "或打开 {url}",
        "resolved_h": "已恢复",
        "more": "…… 另有 {n} 条",
    },
}
_KLASS_ZH = {
    "normal": "正常",
    "special_mention": "关注",
    "substandard": "次级",
    "doubtful": "可疑",
    "loss": "损失",
}
_SEVERITY_ZH = {"info": "提示", "low": "低", "medium": "中", "high": "高", "critical": "严重"}
MAX_LINES = 30
"""Alerts listed per message at most; chat robots cap a message near 20 KB."""


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str  # markdown
    kind: str  # the most urgent kind in the batch: decides the apprise notify type


def _line(alert: Alert, text: dict[str, str], zh: bool, acked: bool) -> str:
    severity = _SEVERITY_ZH.get(alert.severity, alert.severity) if zh else alert.severity.upper()
    klass = _KLASS_ZH.get(alert.klass, alert.klass) if zh else alert.klass
    head = f"- **{severity}** {alert.labels.get('rule', '')}"
    if acked:
        head += f" ({text['acked']})"
    facts = text["alert"].format(
        loan=alert.loan_ref,
        borrower=alert.borrower_ref,
        dpd=alert.dpd,
        bucket=alert.bucket,
        klass=klass,
    )
    lines = [head, f"  {facts} · id {alert.warning_id}"]
    if alert.summary:
        lines.append(f"  {alert.summary}")
    if alert.reasons:
        lines.append(f"  {text['reasons']}: {', '.join(alert.reasons)}")
    return "\n".join(lines)


def render(
    notifications: Sequence[Notification], language: str = "en", ack_url: str | None = None
) -> Message:
    """One message for one or more notifications of one receiver."""
    text = _TEXT.get(language, _TEXT["en"])
    zh = language == "zh-CN"
    order = ("escalation", "firing", "repeat", "resolved")
    kind = min((n.kind for n in notifications), key=order.index, default="firing")
    n_firing = sum(len(n.firing) for n in notifications)
    n_resolved = sum(len(n.resolved) for n in notifications)
    title = f"[{text[kind]}] " + text["title"].format(n_firing=n_firing, n_resolved=n_resolved)
    blocks: list[str] = []
    shown = 0
    for n in notifications:
        labels = masked_labels(n.group_labels)
        head = f"### [{text[n.kind]}] " + ", ".join(f"{k}={v}" for k, v in labels.items())
        if n.kind == "escalation":
            head += " · " + text["level"].format(level=n.level)
        lines = [head.rstrip()]
        for alert in n.firing:
            if shown < MAX_LINES:
                lines.append(_line(alert, text, zh, alert.warning_id in n.acked))
            shown += 1
        if n.resolved:
            lines.append(f"**{text['resolved_h']}**")
            for alert in n.resolved:
                if shown < MAX_LINES:
                    lines.append(_line(alert, text, zh, False))
                shown += 1
        if n.firing:
            lines.append(text["ack"].format(ref=n.group_ref))
            if ack_url:
                lines.append(text["link"].format(url=f"{ack_url}/ack/{n.group_ref}"))
        lines.append(f"`ref {n.group_ref} · #{n.id}`")
        blocks.append("\n".join(lines))
    if shown > MAX_LINES:
        blocks.append(text["more"].format(n=shown - MAX_LINES))
    return Message(title=title, body="\n\n".join(blocks), kind=kind)
