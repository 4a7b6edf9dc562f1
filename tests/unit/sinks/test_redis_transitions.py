"""Transitions for the Redis view, parsed without a server; docs/warnings.md is the contract."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from config import load_settings
from rules.core import Engine, Tick
from rules.events import LoanDisbursed
from rules.pack import default_pack
from rules.policy import load_policy
from rules.workflows import load_workflow_policy
from sinks.redis import BadTransition, parse_transition
from streams.outputs import outputs_of

DOC = Path(__file__).resolve().parents[3] / "docs" / "redis.md"


def _body(**changes: object) -> bytes:
    body: dict[str, object] = {
        "schema_version": 1,
        "loan_id": "L-1",
        "borrower_id": "bw-1",
        "kind": "bucket",
        "from": "M1",
        "to": "M2",
        "on": "2026-04-03",
        "event_id": None,
        "dpd": 31,
        "bucket": "M2",
        "klass": "special_mention",
        "event_time": "2026-04-03T00:00:00+08:00",
        "produced_at": "2026-04-03T00:00:01.482+00:00",
        "zeta": 1,  # unknown fields are kept, never refused
    }
    body.update(changes)
    return orjson.dumps(body)


def test_a_transition_is_parsed_into_its_state_and_times_in_canonical_form() -> None:
    t = parse_transition(_body())
    assert (t.loan_id, t.borrower_id, t.dpd, t.bucket, t.klass) == (
        "L-1",
        "bw-1",
        31,
        "M2",
        "special_mention",
    )
    assert t.event_ms == 1775145600000  # 3 Apr 00:00 in Shanghai is 2 Apr 16:00 UTC
    assert t.event_time == "2026-04-02T16:00:00+00:00"
    assert t.produced_at == "2026-04-03T00:00:01.482+00:00"
    assert t.body == orjson.dumps(orjson.loads(_body()), option=orjson.OPT_SORT_KEYS)


def test_a_repeat_shares_the_id_and_a_change_made_again_later_does_not() -> None:
    first = parse_transition(_body())
    assert parse_transition(_body(produced_at="2026-04-05T09:00:00+00:00")).transition_id == (
        first.transition_id  # judged again after a crash: the same change
    )
    for later in (
        _body(event_time="2026-04-03T15:00:00+08:00"),  # the same change, later that day
        _body(event_id="e-reversal"),
        _body(kind="klass", **{"from": "normal", "to": "special_mention"}),
        _body(on="2026-04-04"),
    ):
        assert parse_transition(later).transition_id != first.transition_id


def test_malformed_transitions_are_refused_with_the_field_named() -> None:
    old_format = {k: v for k, v in orjson.loads(_body()).items() if k != "event_time"}
    for bad, reason in (
        (b"", "empty"),
        (b"{", "not JSON"),
        (b"[]", "not a JSON object"),
        (orjson.dumps(old_format), "missing field 'event_time'"),
        (_body(loan_id=""), "loan_id"),
        (_body(kind="status"), "unknown kind"),
        (_body(to=None), "to must"),
        (_body(borrower_id=7), "borrower_id"),
        (_body(dpd="31"), "dpd"),
        (_body(dpd=True), "dpd"),
        (_body(event_id=5), "event_id"),
        (_body(on="3 April"), "on is not"),
        (_body(event_time="yesterday"), "event_time is not"),
        (_body(event_time="2026-04-03T00:00:00"), "UTC offset"),
    ):
        with pytest.raises(BadTransition, match=reason):
            parse_transition(bad)


def test_what_the_worker_sends_on_the_transitions_topic_parses() -> None:
    """The producer's side of the contract: a real step's transitions, as serialized.

    A loan due on 10 Feb (grace 3 days, Asia/Shanghai) that is not paid rolls to M1
    and special mention at the start of 14 Feb.
    """
    engine = Engine(default_pack(), load_policy(), load_workflow_policy())
    settings = load_settings()
    zone = ZoneInfo("Asia/Shanghai")
    schedule = [
        {"seq": 1, "due_date": "2026-02-10", "principal": 1000, "interest": 20, "fees": 0},
    ]
    disbursed = LoanDisbursed(
        event_id="d1",
        event_time=datetime(2026, 1, 10, 9, tzinfo=zone),
        loan_id="L-7",
        borrower_id="bw-7",
        source="core",
        schema_version=1,
        principal=1000,
        currency="CNY",
        product="cash-loan",
        disbursed_account="acct-1",
        interest_rate_bps=1200,
        schedule=schedule,
    )
    now = datetime(2026, 6, 1, tzinfo=UTC)
    record = None
    sent = []
    days = [date(2026, 2, 1) + timedelta(days=n) for n in range(14)]  # to 14 Feb
    for item in [disbursed, *(Tick("L-7", day) for day in days)]:
        record, result = engine.step(record, item, now)
        sent += [o for o in outputs_of(result, settings) if o.topic == settings.topics.transitions]
    parsed = [parse_transition(o.value) for o in sent]
    assert len(parsed) == 2  # bucket and class
    assert {(t.bucket, t.klass, t.borrower_id) for t in parsed} == {
        ("M1", "special_mention", "bw-7")
    }
    assert {t.event_time for t in parsed} == {"2026-02-13T16:00:00+00:00"}  # 14 Feb, Shanghai


def test_docs_describe_the_card_fields_transitions_write() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in ("state_at", "state_ms", "state_by", "last_transition", "last_transition_at"):
        assert f"`{name}`" in text, name
