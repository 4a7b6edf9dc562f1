"""Acks, resolutions and silences from people (CLI, HTTP), handed to the one running service.

The service is the only writer of the alert state, so a person's request is queued
in Redis (``alerts:commands``) with who and when, and the service applies it at its
next step and answers on a reply key. When no service runs, the request stays
queued and is applied when one starts; the caller is told so instead of waiting
forever. `overview` reads the stored state for `loanwatch alerts list` and
``GET /alerts``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sinks.alerts.exceptions import AlertError
from sinks.alerts.matchers import parse_matcher
from sinks.alerts.model import masked_labels
from sinks.alerts.store import AlertStore

__all__ = ["SILENCE_MAX_S", "known_refs", "overview", "silence_command", "submit", "unique_prefix"]

SILENCE_MAX_S = 90 * 86400.0
"""The longest silence: longer, and a forgotten one hides a whole quarter's alerts."""


def submit(
    store: AlertStore,
    op: str,
    by: str,
    *,
    wait_s: float = 10.0,
    now: datetime | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Queue one command and wait for the service's answer ``{"ok": ..., "error": ...}``.

    ``{"ok": None, "queued": True}`` when no answer came within ``wait_s``.
    """
    reply = uuid.uuid4().hex
    at = (now or datetime.now(UTC)).isoformat()
    store.enqueue({"op": op, "by": by, "at": at, "id_reply": reply, **fields})
    answer = store.wait_reply(reply, wait_s) if wait_s > 0 else None
    return answer if answer is not None else {"ok": None, "queued": True}


def silence_command(
    matchers: list[str],
    duration_s: float,
    comment: str,
    *,
    starts_at: datetime | None = None,
) -> dict[str, Any]:
    """The fields of a ``silence`` command; matchers are checked here so a typo fails at once."""
    for text in matchers:
        parse_matcher(text, "--match")
    start = starts_at or datetime.now(UTC)
    return {
        "id": "s-" + uuid.uuid4().hex[:10],
        "matchers": matchers,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(seconds=duration_s)).isoformat(),
        "comment": comment,
    }


def overview(store: AlertStore, *, now: datetime | None = None) -> dict[str, Any]:
    """Open groups with their alerts (masked refs only), and the silences still in force."""
    now = now or datetime.now(UTC)
    alerts, groups, silences = store.snapshot()
    by_id = {a.alert.warning_id: a for a in alerts}
    out_groups = []
    for group in sorted(groups, key=lambda g: g.created_at):
        members = []
        for wid in group.alerts:
            state = by_id.get(wid)
            if state is None:
                continue
            members.append(
                {
                    "warning_id": wid,
                    "rule": state.alert.labels.get("rule", ""),
                    "severity": state.alert.severity,
                    "loan": state.alert.loan_ref,
                    "dpd": state.alert.dpd,
                    "state": (
                        "resolved"
                        if not state.firing
                        else (state.held or ("acked" if state.acked_at else "firing"))
                    ),
                    "acked_by": state.acked_by,
                    "acked_at": state.acked_at.isoformat() if state.acked_at else None,
                    "resolved_by": state.resolved_by,
                }
            )
        out_groups.append(
            {
                "ref": group.ref,
                "receiver": group.receiver,
                "labels": masked_labels(group.labels),
                "last_sent": group.last_sent.isoformat() if group.last_sent else None,
                "escalation_step": group.esc_step,
                "alerts": members,
            }
        )
    return {
        "groups": out_groups,
        "silences": [s.to_dict() for s in silences if s.ends_at > now],
    }


def known_refs(store: AlertStore) -> set[str]:
    """Every group ref and warning id the store holds: what `ack` and `resolve` accept."""
    alerts, groups, _ = store.snapshot()
    return {a.alert.warning_id for a in alerts} | {g.ref for g in groups}


def unique_prefix(ref: str, known: set[str]) -> str:
    """The one known ref that ``ref`` is, or starts; `alerts list` shortens refs on a
    narrow terminal, so what a person copies from it must be enough.

    >>> unique_prefix("3f9c", {"3f9c0a1b2c3d", "77aa00bb11cc"})
    '3f9c0a1b2c3d'
    >>> unique_prefix("", {"a"})
    Traceback (most recent call last):
    ...
    sinks.alerts.exceptions.AlertError: ref: empty; give a group ref or warning id (or a prefix)
    """
    if not ref:
        raise AlertError("ref: empty; give a group ref or warning id (or a prefix)")
    if ref in known:
        return ref
    matches = sorted(k for k in known if k.startswith(ref))
    if len(matches) > 1:
        shown = ", ".join(matches[:5]) + (" ..." if len(matches) > 5 else "")
        raise AlertError(f"ref: {ref!r} starts {len(matches)} refs ({shown}); give more of it")
    return matches[0] if matches else ref  # unknown: the service says so
