"""Read one loan's risk card, open warnings and recent warnings in one round trip.

Lookups serve people and services waiting on an answer, so they read three keys in
one non-transactional pipeline (one network round trip) and decode in Python; the
writer keeps these keys consistent per warning (docs/redis.md). The models' latest
metrics per partition are one hash, read with one ``HGETALL`` (`latest_metrics`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import IO, Any, Final, TypeVar

import orjson

from config import Settings
from sinks.redis.keys import RedisKeys

__all__ = [
    "NO_CARD",
    "borrower",
    "decode_card",
    "latest_metrics",
    "latest_metrics_command",
    "lookup",
    "lookup_command",
    "queue_card",
    "top_risk",
]

_T = TypeVar("_T")

_INT_FIELDS = ("dpd", "open_warnings", "event_ms", "score_ms", "state_ms", "last_transition_ms")
_BORROWER_INTS = ("loans", "max_dpd", "open_warnings")


def lookup(client: Any, prefix: str, loan_id: str) -> dict[str, Any] | None:
    """The loan's card plus ``open`` and ``recent``; None when Redis has no card for it.

    Card fields come back as str (ints for ``dpd``, ``open_warnings`` and the ``*_ms``
    times; a float for ``score``; ``last_transition`` as the transition's dict);
    ``open`` maps warning_id -> warning dict and ``recent`` lists warning dicts,
    newest first.
    """
    pipe = client.pipeline(transaction=False)
    queue_card(pipe, prefix, loan_id)
    return decode_card(pipe.execute())


def queue_card(pipe: Any, prefix: str, loan_id: str) -> None:
    """Queue the three reads of a card on ``pipe`` (sync or ``redis.asyncio``): one round trip.

    `lookup` is this plus `decode_card`; an asyncio server runs the two around its own
    ``await pipe.execute()``, so both read cards with one implementation.
    """
    keys = RedisKeys(prefix)
    pipe.hgetall(keys.card(loan_id))
    pipe.hgetall(keys.open(loan_id))
    pipe.lrange(keys.recent(loan_id), 0, -1)


def decode_card(results: list[Any]) -> dict[str, Any] | None:
    """The card from the answers to `queue_card`'s reads; None when there is no card."""
    raw_card, raw_open, raw_recent = results
    if not raw_card:
        return None
    card: dict[str, Any] = {_text(k): _text(v) for k, v in raw_card.items()}
    for name in _INT_FIELDS:
        if name in card:
            card[name] = int(card[name])
    if "score" in card:
        card["score"] = float(card["score"])
    if "last_transition" in card:
        card["last_transition"] = orjson.loads(card["last_transition"])
    card["open"] = {_text(k): orjson.loads(v) for k, v in sorted(raw_open.items())}
    card["recent"] = [orjson.loads(v) for v in raw_recent]
    return card


_TOP_FIELDS = ("borrower_id", "dpd", "bucket", "klass", "open_warnings")


def top_risk(client: Any, prefix: str, n: int) -> list[dict[str, Any]]:
    """The ``n`` riskiest loans of ``top``, riskiest first, each with its card's summary.

    Two round trips: the sorted set, then one pipeline of ``HMGET`` over the cards.
    ``score`` is `sinks.redis.keys.risk_score` (severity weight x 1000 + dpd); a card
    gone meanwhile (expired) leaves its summary fields None.
    """
    keys = RedisKeys(prefix)
    ranked = client.zrevrange(keys.top, 0, n - 1, withscores=True) if n > 0 else []
    pipe = client.pipeline(transaction=False)
    for member, _ in ranked:
        pipe.hmget(keys.card(_text(member)), *_TOP_FIELDS)
    out = []
    for (member, score), values in zip(ranked, pipe.execute() if ranked else [], strict=True):
        row: dict[str, Any] = {"loan_id": _text(member), "score": int(score)}
        for name, value in zip(_TOP_FIELDS, values, strict=True):
            text = None if value is None else _text(value)
            row[name] = int(text) if text is not None and name in _INT_FIELDS else text
        out.append(row)
    return out


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


def latest_metrics(
    client: Any, prefix: str, model: str | None = None
) -> dict[str, dict[int, dict[str, Any]]]:
    """The latest metrics record per model and partition: ``{model: {partition: record}}``.

    Only ``model``'s when given; models and partitions in order; empty when Redis
    holds none (no checkpoint yet, or no such model).
    """
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for key, value in client.hgetall(RedisKeys(prefix).model_metrics).items():
        name, _, partition = _text(key).rpartition("/p")
        if name and partition.isdigit() and model in (None, name):
            out.setdefault(name, {})[int(partition)] = orjson.loads(value)
    return {name: dict(sorted(parts.items())) for name, parts in sorted(out.items())}


NO_CARD: Final = 3
"""Exit code of `lookup_command` for a loan that exists but has no card (1: no such loan)."""


def lookup_command(
    settings: Settings,
    loan_id: str,
    *,
    client: Any | None = None,
    out: IO[str] | None = None,
    known: Callable[[str], str | None] | None = None,
) -> int:
    """`loanwatch lookup LOAN_ID`: print the card as one JSON document and exit 0.

    Without a card, ``known(loan_id)`` (the loan book: `sinks.clickhouse.loan_book`)
    tells a loan nothing was raised about, exit `NO_CARD`, from one that does not
    exist, exit 1; each says so in one line. When ``known`` is not given or fails,
    the line says that both are possible. Builds its Redis client from
    ``settings.redis`` (ACL user, password, TLS) unless given one.
    """
    card = _read(settings, client, lambda c: lookup(c, settings.redis.key_prefix, loan_id))
    if card is not None or known is None:
        missing = f"no risk card for {loan_id} (no warning or bucket change yet, or no such loan)"
        return _print(card, missing, out)
    try:
        found = known(loan_id)
    except Exception as exc:  # noqa: BLE001 - any failure of the second source is reported
        print(
            f"no risk card for {loan_id} in Redis; whether the loan exists is unknown: "
            f"the loan book could not be read ({type(exc).__name__}: {exc})",
            file=sys.stderr,
        )
        return 1
    if found is None:
        print(
            f"no loan {loan_id}: no risk card in Redis and no disbursement in the loan book",
            file=sys.stderr,
        )
        return 1
    print(
        f"loan {loan_id} has no risk card: no warning or bucket change for it yet ({found})",
        file=sys.stderr,
    )
    return NO_CARD


def latest_metrics_command(
    settings: Settings,
    model: str | None = None,
    *,
    client: Any | None = None,
    out: IO[str] | None = None,
) -> int:
    """`loanwatch model-metrics [MODEL]`: print the latest metrics as JSON; exit 1 when none."""
    found = _read(settings, client, lambda c: latest_metrics(c, settings.redis.key_prefix, model))
    return _print(found or None, f"no model metrics{f' for {model}' if model else ''}", out)


def _read(settings: Settings, client: Any | None, read: Callable[[Any], _T]) -> _T:
    """``read(client)`` with the given client, or one built from ``settings.redis`` and closed."""
    if client is not None:
        return read(client)
    import redis

    own = redis.Redis.from_url(settings.redis.url, **settings.redis.client_kwargs())
    try:
        return read(own)
    finally:
        own.close()


def _print(found: Any, missing: str, out: IO[str] | None) -> int:
    """One JSON document on ``out`` (stdout) and exit code 0, or ``missing`` on stderr and 1.

    JSON keys must be strings, so partition numbers are printed as strings.
    """
    if found is None:
        print(missing, file=sys.stderr)
        return 1
    text = orjson.dumps(found, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    (out or sys.stdout).write(text + "\n")
    return 0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
