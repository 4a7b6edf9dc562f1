"""Hot reload that drops a rule: its open episodes resolve at the loan's next step.

The loan of `test_core_step` misses its first installment (due 10 Feb, cut-off
the 14th), so ``dpd_1`` is open from the 14th; the new pack lacks ``dpd_1``.
"""

from __future__ import annotations

from datetime import date
from importlib import resources

from test_core_step import ENGINE, NOW, book_events, daily_ticks, run

from rules.core import RETIRED_OWNER, Engine, LoanRecord
from rules.pack import RulePack, load_pack_text
from rules.warnings import warning_id

TEXT = (resources.files("rules") / "packs" / "default.yaml").read_text("utf-8")


def without(*rule_ids: str) -> RulePack:
    """The default pack with some rules cut out (each rule starts at `  - id:`)."""
    head, *rules = TEXT.split("\n  - id: ")
    kept = [rule for rule in rules if rule.split("\n", 1)[0].strip() not in rule_ids]
    return load_pack_text("\n  - id: ".join([head, *kept]), source="smaller.yaml")


def late_record() -> LoanRecord:
    _, events = book_events()
    record, _ = run([*events, *daily_ticks("L-7", date(2026, 2, 1), date(2026, 2, 20))])
    assert record is not None
    assert record.episodes.get("dpd_1", "") is not None
    assert record.episodes.get("dpd_1", "").open  # type: ignore[union-attr]
    return record


def test_a_dropped_rule_resolves_its_open_episode_with_the_same_warning_id() -> None:
    record = late_record()
    state = record.episodes.get("dpd_1", "")
    assert state is not None and state.last_opened is not None
    opened_id = warning_id("L-7", "dpd_1", "", state.seq, state.last_opened)
    smaller = without("dpd_1")
    engine = ENGINE.with_pack(smaller)
    record, result = engine.step(
        record, daily_ticks("L-7", date(2026, 2, 21), date(2026, 2, 21))[0], NOW
    )
    resolved = [w for w in result.warnings if w.rule_id == "dpd_1"]
    assert len(resolved) == 1
    warning = resolved[0]
    assert warning.status == "resolved"
    assert warning.warning_id == opened_id
    old = ENGINE.pack.by_id["dpd_1"]
    assert (warning.severity, warning.owner_team, warning.rule_version) == (
        old.severity,
        old.owner_team,
        old.version,
    )
    assert warning.pack_digest == smaller.digest
    assert "no longer in rule pack" in warning.message
    assert warning.reasons == ()
    assert not result.actions or all(a.reason != "dpd_1" for a in result.actions)


def test_the_episode_resolves_once_and_stays_in_the_book_closed() -> None:
    record = late_record()
    engine = ENGINE.with_pack(without("dpd_1"))
    ticks = daily_ticks("L-7", date(2026, 2, 21), date(2026, 3, 20))
    resolved = []
    for tick in ticks:
        record, result = engine.step(record, tick, NOW)  # type: ignore[assignment]
        resolved += [w for w in result.warnings if w.rule_id == "dpd_1"]
    assert [w.status for w in resolved] == ["resolved"]
    state = record.episodes.get("dpd_1", "")
    assert state is not None and not state.open and state.seq == 1
    assert LoanRecord.from_bytes(record.to_bytes()) == record


def test_a_rule_that_comes_back_opens_a_new_episode() -> None:
    record = late_record()
    smaller = ENGINE.with_pack(without("dpd_1"))
    ticks = daily_ticks("L-7", date(2026, 2, 21), date(2026, 2, 23))
    record, _ = smaller.step(record, ticks[0], NOW)  # type: ignore[assignment]
    again = smaller.with_pack(ENGINE.pack)
    assert "dpd_1" not in again.retired
    record, result = again.step(record, ticks[1], NOW)  # type: ignore[assignment]
    back = [w for w in result.warnings if w.rule_id == "dpd_1"]
    assert [(w.status, w.episode) for w in back] == [("open", 2)]


def test_retired_rules_accumulate_over_reloads_until_they_return() -> None:
    first = ENGINE.with_pack(without("dpd_1"))
    second = first.with_pack(without("dpd_1", "dpd_30"))
    assert sorted(second.retired) == ["dpd_1", "dpd_30"]
    assert second.retired["dpd_1"] is ENGINE.pack.by_id["dpd_1"]
    third = second.with_pack(without("dpd_30"))
    assert sorted(third.retired) == ["dpd_30"]


def test_a_rule_the_engine_never_saw_resolves_in_the_name_the_episode_kept() -> None:
    record = LoanRecord.from_bytes(late_record().to_bytes())  # as after a restart
    engine = Engine(without("dpd_1"), ENGINE.policy, ENGINE.workflows)
    record, result = engine.step(
        record, daily_ticks("L-7", date(2026, 2, 21), date(2026, 2, 21))[0], NOW
    )
    (warning,) = [w for w in result.warnings if w.rule_id == "dpd_1"]
    assert warning.status == "resolved"
    rule = ENGINE.pack.by_id["dpd_1"]
    assert (warning.rule_version, warning.severity, warning.owner_team) == (
        rule.version,
        rule.severity,
        rule.owner_team,
    )


def test_an_episode_from_before_owners_were_kept_resolves_under_its_id_alone() -> None:
    old = late_record()
    state = old.episodes.get("dpd_1", "")
    assert state is not None and state.open and state.owner is not None
    state.owner = None  # a record written before episodes kept their owner
    record = LoanRecord.from_bytes(old.to_bytes())
    engine = Engine(without("dpd_1"), ENGINE.policy, ENGINE.workflows)
    record, result = engine.step(
        record, daily_ticks("L-7", date(2026, 2, 21), date(2026, 2, 21))[0], NOW
    )
    (warning,) = [w for w in result.warnings if w.rule_id == "dpd_1"]
    assert (warning.rule_version, warning.severity, warning.owner_team) == (
        0,
        "info",
        RETIRED_OWNER,
    )


def test_only_open_episodes_of_dropped_rules_are_resolved() -> None:
    _, events = book_events()
    record, _ = run(events)  # a current loan: no episode open
    assert record is not None
    engine = ENGINE.with_pack(without("dpd_1", "pay_on_last_day"))
    record, result = engine.step(
        record, daily_ticks("L-7", date(2026, 1, 20), date(2026, 1, 20))[0], NOW
    )
    assert result.warnings == ()
