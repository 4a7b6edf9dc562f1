"""Rule packs load into immutable values, or are refused with every problem located."""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
from pathlib import Path
from textwrap import dedent

import pytest

from rules.lang.testing import sample_context
from rules.pack import RulePackError, load_pack, load_pack_text

GOOD = dedent(
    """\
    pack: {name: demo, version: 3}
    rules:
      - id: dpd_30
        version: 2
        description: Thirty days past due.
        condition: loan.dpd >= 30
        resolve_when: loan.dpd == 0
        severity: high
        message: "DPD {loan.dpd} ({loan.bucket})"
        owner_team: collections
        action: {kind: collection_step, channel: agent, attempts: 3}
      - id: partial.payment-1
        version: 1
        description: A partial repayment arrived.
        condition: event.type == "repayment_received" and event.kind == "partial"
        cooldown_days: 30
        episode_key: event.kind
        severity: low
        message: "Partial payment {event.amount}"
        owner_team: collections
    """
)


def _rule(**overrides: str) -> str:
    """A one-rule pack; the rule's keys start on line 4 in this order."""
    keys = {
        "id": "dpd_30",
        "version": "1",
        "description": "Thirty days past due.",
        "condition": "loan.dpd >= 30",
        "severity": "high",
        "message": '"DPD {loan.dpd}"',
        "owner_team": "collections",
    }
    keys.update(overrides)
    lines = [f"    {key}: {value}" for key, value in keys.items() if value != "<absent>"]
    lines[0] = "  - " + lines[0].lstrip()
    return "pack: {name: t, version: 1}\n# comment\nrules:\n" + "\n".join(lines) + "\n"


def _refusal(text: str, source: str = "rules/packs/x.yaml") -> RulePackError:
    with pytest.raises(RulePackError) as caught:
        load_pack_text(text, source=source)
    return caught.value


def test_a_good_pack_loads_into_compiled_rules() -> None:
    pack = load_pack_text(GOOD, source="demo.yaml")

    assert (pack.name, pack.version, pack.source) == ("demo", 3, "demo.yaml")
    assert [rule.id for rule in pack.rules] == ["dpd_30", "partial.payment-1"]
    dpd, partial = pack.rules
    assert (dpd.kind, dpd.version, dpd.severity, dpd.cooldown_days) == ("state", 2, "high", 0)
    assert (partial.kind, partial.cooldown_days) == ("event", 30)
    assert dpd.line == 3 and partial.line == 12
    assert dpd.episode_key is None and partial.episode_key is not None
    assert dpd.resolve_when is not None and partial.resolve_when is None
    ctx = sample_context(loan={"dpd": 31, "bucket": "M2"})
    assert dpd.condition(ctx) is True
    assert dpd.render_message(ctx) == "DPD 31 (M2)"
    assert pack.by_id["partial.payment-1"] is partial


def test_action_params_are_a_frozen_mapping_of_scalars_named_after_the_rule() -> None:
    action = load_pack_text(GOOD).rules[0].action

    assert action is not None
    assert (action.kind, action.name) == ("collection_step", "dpd_30")
    assert dict(action.params) == {"channel": "agent", "attempts": 3}
    with pytest.raises(TypeError):
        action.params["channel"] = "sms"  # type: ignore[index]
    assert hash(action) == hash(load_pack_text(GOOD).rules[0].action)


def test_action_name_can_be_given() -> None:
    text = _rule(action="{kind: review, name: first_review, focus: funds}")

    action = load_pack_text(text).rules[0].action

    assert action is not None and action.name == "first_review"


def test_digest_is_the_sha256_of_the_text_so_warnings_can_name_their_pack() -> None:
    pack = load_pack_text(GOOD)

    assert pack.digest == hashlib.sha256(GOOD.encode()).hexdigest()
    assert load_pack_text(GOOD + "# edited\n").digest != pack.digest


def test_packs_and_rules_are_immutable_and_comparable() -> None:
    pack = load_pack_text(GOOD)

    with pytest.raises(dataclasses.FrozenInstanceError):
        pack.rules[0].severity = "low"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        pack.digest = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        pack.by_id["x"] = pack.rules[0]  # type: ignore[index]
    assert pack == load_pack_text(GOOD)
    assert hash(pack) == hash(load_pack_text(GOOD))


def test_load_pack_reads_a_file_and_names_it_in_errors(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD, encoding="utf-8")
    bad.write_text(_rule(condition="loan.dpdd >= 30"), encoding="utf-8")

    assert load_pack(good).source == str(good)
    assert load_pack(good).digest == hashlib.sha256(good.read_bytes()).hexdigest()
    with pytest.raises(RulePackError, match=f"^{bad}:7: rule dpd_30: condition: unknown name"):
        load_pack(bad)


def test_unknown_name_error_names_file_line_and_rule() -> None:
    error = _refusal(_rule(condition="loan.dpdd >= 30"))

    assert str(error) == (
        "rules/packs/x.yaml:7: rule dpd_30: condition:"
        " unknown name loan.dpdd (did you mean loan.dpd?)"
    )
    assert (error.source, error.line, error.rule_id) == ("rules/packs/x.yaml", 7, "dpd_30")


def test_all_problems_of_a_pack_are_reported_together_in_line_order() -> None:
    text = dedent(
        """\
        pack: {name: demo, version: 1}
        rules:
          - id: a
            version: 0
            description: first
            condition: loan.bucket > 3
            severity: urgent
            message: "{loan.dpd"
            owner_team: collections
          - id: b
            version: 1
            description: second
            condition: loan.dpd >= 1
            severity: low
            message: ok
            owner_team: Collections Team
            colour: red
        """
    )

    error = _refusal(text, source="p.yaml")

    assert [(p.line, p.rule_id, p.key) for p in error.problems] == [
        (4, "a", "version"),
        (6, "a", "condition"),
        (7, "a", "severity"),
        (8, "a", "message"),
        (16, "b", "owner_team"),
        (17, "b", "colour"),
    ]
    assert (
        str(error).splitlines()[0]
        == "p.yaml:4: rule a: version: must be a whole number >= 1, not 0"
    )
    assert "p.yaml:7: rule a: severity: bad severity 'urgent' (one of info, low" in str(error)


def test_duplicate_ids_are_refused_at_the_second_one() -> None:
    rule = _rule().split("rules:\n", 1)[1]
    error = _refusal(_rule() + rule)

    assert [(p.line, p.rule_id, p.key) for p in error.problems] == [(11, "dpd_30", "id")]
    assert "duplicate id (first at line 4)" in str(error)


def test_duplicate_ids_on_one_line_are_refused_too() -> None:
    rule = "{id: a, version: 1, description: d, condition: loan.cured, severity: low,"
    rule += " message: m, owner_team: t}"
    error = _refusal(f"pack: {{name: t, version: 1}}\nrules: [{rule}, {rule}]\n")

    assert "duplicate id (first at line 2)" in str(error)


PROBLEMS = {
    "missing key": ({"severity": "<absent>"}, 4, None, "missing key severity"),
    "unknown key": ({"severty": "high"}, 11, "severty", "unknown key (did you mean severity?)"),
    "empty condition": ({"condition": '""'}, 7, "condition", "must be non-empty text"),
    "condition not text": ({"condition": "true"}, 7, "condition", "must be non-empty text"),
    "condition not bool": ({"condition": "loan.dpd"}, 7, "condition", "must be true or false"),
    "version not int": ({"version": "one"}, 5, "version", "must be a whole number >= 1"),
    "version bool": ({"version": "true"}, 5, "version", "not True"),
    "negative cooldown": ({"cooldown_days": "-1"}, 11, "cooldown_days", ">= 0, not -1"),
    "bad id": ({"id": "DPD 30"}, 4, "id", "must match [a-z0-9_.-]+"),
    "bad team": ({"owner_team": "Risk Review"}, 10, "owner_team", "must match"),
    "bad severity": ({"severity": "urgent"}, 8, "severity", "bad severity 'urgent'"),
    "list as text": ({"description": "[a, b]"}, 6, "description", "not a list"),
    "bad template": ({"message": '"{loan.__class__}"'}, 9, "message", "unknown name"),
    "bad episode key": ({"episode_key": "loan.dpd +"}, 11, "episode_key", "invalid syntax"),
    "bad action kind": ({"action": "{kind: call}"}, 11, "action.kind", "bad kind 'call'"),
    "action without kind": ({"action": "{channel: sms}"}, 11, "action", "missing key kind"),
    "action param list": (
        {"action": "{kind: review, teams: [a, b]}"},
        11,
        "action.teams",
        "not a list",
    ),
    "action param null": ({"action": "{kind: review, x: null}"}, 11, "action.x", "not None"),
    "action not mapping": ({"action": "review"}, 11, "action", "must be a mapping"),
    "python tag": (
        {"description": "!!python/name:os.system ''"},
        6,
        "description",
        "cannot read value",
    ),
    "resolve on event rule": (
        {"condition": "event.type == 'write_off'", "resolve_when": "loan.dpd == 0"},
        11,
        "resolve_when",
        "event rules (the condition reads event.*) never resolve by themselves",
    ),
    "event key on state rule": (
        {"episode_key": "event.kind"},
        11,
        "episode_key",
        "a state rule's episode key must not read event.*",
    ),
    "duplicate yaml key": ({"Version": "1"}, 11, "Version", "unknown key (did you mean version?)"),
    "tagged int that is not one": ({"version": "!!int abc"}, 5, "version", "not a valid !!int"),
    "impossible date": (
        {"description": "!!timestamp 2020-13-45"},
        6,
        "description",
        "not a valid !!timestamp",
    ),
    "not a date at all": ({"description": "!!timestamp x"}, 6, "description", "!!timestamp"),
    "tagged key": ({"!!float x": "1"}, 11, None, "not a valid !!float"),
    "lone surrogate": ({"description": '"\\ud800"'}, 6, "description", "lone surrogate"),
}


@pytest.mark.parametrize(
    ("overrides", "line", "key", "reason"), PROBLEMS.values(), ids=list(PROBLEMS)
)
def test_each_kind_of_problem_is_located(
    overrides: dict[str, str], line: int, key: str | None, reason: str
) -> None:
    error = _refusal(_rule(**overrides))

    assert len(error.problems) == 1, str(error)
    problem = error.problems[0]
    assert (problem.line, problem.key) == (line, key), str(error)
    assert reason in problem.reason
    assert problem.rule_id == overrides.get("id", "dpd_30")


def test_duplicate_yaml_keys_are_refused_not_silently_overwritten() -> None:
    text = _rule() + "    severity: low\n"

    error = _refusal(text)

    assert (error.line, error.problems[0].key) == (11, "severity")
    assert "duplicate key (first at line 8)" in str(error)


def test_a_rule_without_an_id_is_named_by_position() -> None:
    error = _refusal(_rule(id="<absent>", version="1"))

    assert str(error).startswith("rules/packs/x.yaml:4: rule #1: missing key id")


WHOLE_PACK = {
    "empty": ("", None, "empty pack"),
    "not yaml": ("pack: {name: t\nrules: [", 2, "not valid YAML"),
    "a list": ("- 1\n- 2\n", 1, "must be a mapping"),
    "unknown top key": ("pack: {name: t, version: 1}\nrules: []\nrule: []\n", 3, "unknown key"),
    "no rules key": ("pack: {name: t, version: 1}\n", 1, "missing key rules"),
    "rules not a list": ("pack: {name: t, version: 1}\nrules: {a: 1}\n", 2, "must be a list"),
    "header without version": ("pack: {name: t}\nrules: []\n", 1, "missing key version"),
    "bad pack name": ("pack: {name: 'a b', version: 1}\nrules: []\n", 1, "pack.name"),
    "two documents": ("pack: {}\n---\npack: {}\n", 2, "not valid YAML"),
    "nested past the stack": ("[" * 5000, 1, "nested deeper than 32 levels"),
    "nested mappings": ("pack:\n" + "{a: " * 40, 2, "nested deeper than 32 levels"),
    "control character": ("pack: {name: t, version: 1}\nrules: [\x07]\n", 2, "#x0007"),
}


@pytest.mark.parametrize(("text", "line", "reason"), WHOLE_PACK.values(), ids=list(WHOLE_PACK))
def test_malformed_packs_are_refused_with_a_line(text: str, line: int | None, reason: str) -> None:
    error = _refusal(text)

    assert error.line == line
    assert reason in str(error)


def test_an_empty_rule_list_is_a_valid_pack() -> None:
    assert load_pack_text("pack: {name: none_yet, version: 1}\nrules: []\n").rules == ()


def test_yaml_words_that_read_as_booleans_get_a_hint() -> None:
    error = _refusal("pack: {name: off, version: 1}\nrules: []\n")

    assert "not False (quote it if you meant the word)" in str(error)


def test_non_utf8_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("pack: {name: caf\xe9}".encode("latin-1"))

    with pytest.raises(RulePackError, match="not UTF-8"):
        load_pack(path)


def test_oversized_packs_are_refused_before_parsing() -> None:
    with pytest.raises(RulePackError, match="larger than"):
        load_pack_text("#" * 1_000_001)


def test_pack_errors_survive_pickling() -> None:
    error = _refusal(_rule(condition="loan.dpdd >= 1"))

    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes

    assert (str(copy), copy.line, copy.rule_id) == (str(error), error.line, error.rule_id)


def test_a_text_with_a_lone_surrogate_is_refused_whole() -> None:
    error = _refusal(GOOD + "# \ud800\n")

    assert "not UTF-8 text" in str(error)


def test_an_episode_key_never_grows_past_what_can_be_printed() -> None:
    # round() of a float near 1e308 is a 309-digit int; fifteen of them multiplied
    # could not even be printed (str() stops at 4300 digits), and Engine.step
    # prints every episode key. Such a round() is None, and such a constant refused.
    huge = " * ".join(["round(loan.principal * 1e300)"] * 15)
    pack = load_pack_text(_rule(episode_key=huge))

    assert pack.rules[0].episode_key(sample_context(loan={"principal": 100_000})) is None
    constant = _refusal(_rule(episode_key="loan.dpd * 99999999999999999999"))
    assert "whole numbers must fit in 64 bits" in str(constant)


def test_a_pack_of_aliased_rules_past_the_limit_is_refused_before_compiling() -> None:
    from rules.pack import MAX_RULES, RulePackError, load_pack_text

    text = (
        "pack: {name: big, version: 1}\n"
        "x: &r {id: r, version: 1, description: d, condition: loan.dpd >= 1,"
        " severity: low, message: m, owner_team: t}\n"
        f"rules: [{', '.join(['*r'] * (MAX_RULES + 1))}]\n"
    )
    with pytest.raises(RulePackError) as caught:
        load_pack_text(text, source="big.yaml")
    assert f"more than {MAX_RULES}" in str(caught.value)
