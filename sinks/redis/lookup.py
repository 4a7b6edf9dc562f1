"""Read one loan's risk card, open warnings and recent warnings in one round trip.

Lookups serve people and services waiting on an answer, so they read three keys in
one non-transactional pipeline (one network round trip) and decode in Python; the
writer keeps these keys consistent per warning (docs/redis.md).
"""

from __future__ import annotations

import sys
from typing import IO, Any

import orjson

from config import Settings
from sinks.redis.keys import RedisKeys

__all__ = ["borrower", "lookup", "lookup_command"]

_INT_FIELDS = ("dpd", "open_warnings", "event_ms", "score_ms")
_BORROWER_INTS = ("loans", "max_dpd", "open_warnings")


def lookup(client: Any, prefix: str, loan_id: str) -> dict[str, Any] | None:
    """The loan's card plus ``open`` and ``recent``; None when Redis has no card for it.

    Card fields come back as str (ints for ``dpd``, ``open_warnings``, ``event_ms``,
    ``score_ms``; a float for ``score``);
    ``open`` maps warning_id -> warning dict and ``recent`` lists warning dicts,
    newest first.
    """
    keys = RedisKeys(prefix)
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.card(loan_id))
    pipe.hgetall(keys.open(loan_id))
    pipe.lrange(keys.recent(loan_id), 0, -1)
    raw_card, raw_open, raw_recent = pipe.execute()
    if not raw_card:
        return None
    card: dict[str, Any] = {_text(k): _text(v) for k, v in raw_card.items()}
    for name in _INT_FIELDS:
        if name in card:
            card[name] = int(card[name])
    if "score" in card:
        card["score"] = float(card["score"])
    card["open"] = {_text(k): orjson.loads(v) for k, v in sorted(raw_open.items())}
    card["recent"] = [orjson.loads(v) for v in raw_recent]
    return card


def borrower(client: Any, prefix: str, borrower_id: str) -> dict[str, Any] | None:
    """A borrower's roll-up across loans, or None when Redis has none for it.

    ``loans``, ``max_dpd`` and ``open_warnings`` are ints, ``worst_klass`` a str, and
    ``by_loan`` maps each loan to its ``dpd`` (int), ``klass`` and ``open`` (int).
    """
    raw = client.hgetall(RedisKeys(prefix).borrower(borrower_id))
    if not raw:
        return None
    out: dict[str, Any] = {}
    by_loan: dict[str, dict[str, Any]] = {}
    for key, value in raw.items():
        name, text = _text(key), _text(value)
        field, _, loan = name.partition(":")
        if loan:
            by_loan.setdefault(loan, {})[field] = text if field == "klass" else int(text)
        else:
            out[name] = int(text) if name in _BORROWER_INTS else text
    out["by_loan"] = dict(sorted(by_loan.items()))
    return out


def lookup_command(
    settings: Settings, loan_id: str, *, client: Any | None = None, out: IO[str] | None = None
) -> int:
    """`loanwatch lookup LOAN_ID`: print the card as one JSON document; exit 0, or 1 if unknown.

    Builds its client from ``settings.redis`` (ACL user, password, TLS) unless given one.
    """
    out = out or sys.stdout
    own = client is None
    if client is None:
        import redis

        client = redis.Redis.from_url(settings.redis.url, **settings.redis.client_kwargs())
    try:
        card = lookup(client, settings.redis.key_prefix, loan_id)
    finally:
        if own:
            client.close()
    if card is None:
        print(f"no risk card for {loan_id}", file=sys.stderr)
        return 1
    out.write(orjson.dumps(card, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
