"""Redis key names and the top-risk score: pure, no server; docs/redis.md names these keys."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from sinks.redis import (
    SEVERITY_WEIGHT,
    BadMetrics,
    RedisKeys,
    parse_model_metrics,
    parse_warning,
    risk_score,
)
from sinks.redis.model_metrics import FIGURES
from sinks.redis.writer import BadWarning

DOC = Path(__file__).resolve().parents[3] / "docs" / "redis.md"


def test_every_key_sits_under_the_prefix() -> None:
    keys = RedisKeys("lw:")
    assert keys.card("L-1") == "lw:card:L-1"
    assert keys.open("L-1") == "lw:open:L-1"
    assert keys.recent("L-1") == "lw:recent:L-1"
    assert keys.seen("L-1") == "lw:seen:L-1"
    assert keys.loan("L-1") == ["lw:card:L-1", "lw:open:L-1", "lw:recent:L-1", "lw:seen:L-1"]
    assert keys.team("collections") == "lw:team:collections"
    assert keys.top == "lw:top"
    assert keys.stream == "lw:stream:warnings"
    assert keys.borrower("bw-7f3a9c") == "lw:borrower:bw-7f3a9c"
    assert keys.view == "lw:view"
    assert keys.model_metrics == "lw:model_metrics"
    assert keys.team_prefix + "legal" == keys.team("legal")
    assert RedisKeys().card("x") == "lw:card:x"  # the settings' default prefix
    assert RedisKeys("test:ab:").top == "test:ab:top"


def test_docs_name_every_key() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in ("card:{loan_id}", "open:{loan_id}", "recent:{loan_id}", "seen:{loan_id}"):
        assert f"`{name}`" in text
    for name in ("team:{owner_team}", "top", "stream:warnings", "borrower:{borrower_id}", "view"):
        assert f"`{name}`" in text
    assert "`model_metrics`" in text and "`{model}/p{partition}`" in text


def test_score_orders_by_severity_then_dpd() -> None:
    assert risk_score("high", 30) == 4030
    assert risk_score("info", 0) == 1000
    assert risk_score("critical", 0) > risk_score("high", 999)
    assert risk_score("low", 5000) == 2999  # dpd cannot lift a loan into the next band
    assert risk_score("medium", -3) == 3000
    weights = [SEVERITY_WEIGHT[s] for s in ("info", "low", "medium", "high", "critical")]
    assert weights == sorted(weights) and len(set(weights)) == 5


def test_unknown_severity_is_refused() -> None:
    with pytest.raises(ValueError, match="severity"):
        risk_score("urgent", 1)


def _body(**changes: object) -> bytes:
    body = {
        "warning_id": "w1",
        "status": "open",
        "loan_id": "L-1",
        "borrower_id": "bw-1",
        "rule_id": "dpd_30",
        "pack_digest": "9b1f",
        "score": None,
        "severity": "high",
        "owner_team": "collections",
        "dpd": 30,
        "bucket": "M1",
        "klass": "special_mention",
        "event_time": "2026-03-04T16:00:00+00:00",
        "produced_at": "2026-03-05T00:00:02.113+00:00",
        "zeta": 1,
    }
    body.update(changes)
    return orjson.dumps(body)


def test_parse_is_canonical_and_checks_fields() -> None:
    w = parse_warning(_body())
    assert w.event_ms == 1772640000000
    assert w.body == orjson.dumps(orjson.loads(_body()), option=orjson.OPT_SORT_KEYS)
    assert (w.borrower_id, w.rule_id, w.pack_digest, w.score) == ("bw-1", "dpd_30", "9b1f", None)
    assert parse_warning(_body(score=0.42)).score == 0.42
    bad_bodies = (
        b"",
        b"[1]",
        b"{",
        _body(status="closed"),
        _body(severity="x"),
        _body(dpd="3"),
        _body(score="high"),
        _body(loan_id=""),
        _body(borrower_id=None),
    )
    for bad in bad_bodies:
        with pytest.raises(BadWarning):
            parse_warning(bad)
    # A model's drift warning has no borrower, bucket or class (docs/warnings.md).
    assert parse_warning(_body(borrower_id="", bucket="", klass="")).borrower_id == ""
    with pytest.raises(BadWarning, match="missing"):
        parse_warning(orjson.dumps({"status": "open", "severity": "low"}))
    with pytest.raises(BadWarning, match="event_time"):
        parse_warning(_body(event_time="yesterday"))


def _metrics(**changes: object) -> bytes:
    body: dict[str, object] = {
        "schema_version": 1,
        "model": "pd",
        "partition": 3,
        "model_version": "pd-logistic.40/intent.0",
        "n": 40,
        **dict.fromkeys(FIGURES),
        "roc_auc": 0.71,
        "produced_at": "2026-03-05T00:00:02+08:00",
    }
    body.update(changes)
    return orjson.dumps(body)


def test_model_metrics_are_filed_under_model_and_partition_in_canonical_form() -> None:
    parsed = parse_model_metrics(_metrics())
    assert parsed.field == "pd/p3"
    assert parsed.body == orjson.dumps(orjson.loads(_metrics()), option=orjson.OPT_SORT_KEYS)
    assert parse_model_metrics(_metrics(model="intent", partition=0)).field == "intent/p0"
    assert parse_model_metrics(_metrics(alerts=3, brier=0)).field == "pd/p3"  # ints are numbers


def test_malformed_model_metrics_are_refused_with_the_field_named() -> None:
    for bad, reason in (
        (b"", "empty"),
        (b"{", "not JSON"),
        (b"[]", "not a JSON object"),
        (orjson.dumps({"model": "pd"}), "missing field 'partition'"),
        (_metrics(model=""), "model"),
        (_metrics(model="pd/p1"), "model"),
        (_metrics(partition=-1), "partition"),
        (_metrics(partition=True), "partition"),
        (_metrics(n="40"), "n must"),
        (_metrics(model_version=None), "model_version"),
        (_metrics(roc_auc="high"), "roc_auc"),
        (_metrics(accuracy=False), "accuracy"),
        (_metrics(produced_at="yesterday"), "produced_at"),
        (_metrics(produced_at="2026-03-05T00:00:02"), "UTC offset"),
    ):
        with pytest.raises(BadMetrics, match=reason):
            parse_model_metrics(bad)
