"""The delinquency policy: the shipped default, and errors that name the key and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_loan_builders import variant

from rules.exceptions import RulesError
from rules.policy import Policy, PolicyError, load_policy, parse_policy

DEFAULT = Path(__file__).resolve().parents[3] / "rules" / "policies" / "default.yaml"


def test_the_default_policy_says_what_the_domain_says() -> None:
    policy = load_policy()

    assert (policy.time_zone, policy.grace_days) == ("Asia/Shanghai", 3)
    assert [(b.label, b.max_dpd) for b in policy.buckets] == [
        ("M0", 0),
        ("M1", 30),
        ("M2", 60),
        ("M3", 90),
        ("M4", 120),
        ("M5", 150),
        ("M6", 180),
        ("M6+", None),
    ]
    assert policy.klass_starts == (1, 91, 271, 361)
    assert policy.classification.upgrade_after_on_time == 3
    assert policy.classification.restructured_floor == "special_mention"
    assert (policy.waterfall.mode, policy.waterfall.components) == (
        "installment",
        ("fees", "interest", "principal"),
    )
    assert (policy.late_event_window_days, policy.seen_event_ids) == (7, 64)
    assert policy.features.large_outflow_bps == 5000
    assert policy.features.diversion_window_days == 30


def test_a_path_reads_the_same_policy_as_the_packaged_default() -> None:
    assert load_policy(DEFAULT) == load_policy()


def test_the_policy_is_frozen() -> None:
    policy = load_policy()

    with pytest.raises(ValueError, match="frozen"):
        policy.grace_days = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("replacement", "message"),
    [
        (
            ("grace_days: 3", "grace_days: -1"),
            "variant.yaml:9: grace_days: Input should be greater",
        ),
        (
            ("grace_days: 3", "grace_dayz: 3"),
            "variant.yaml: grace_days: required key is missing; "
            "variant.yaml:9: grace_dayz: unknown key",
        ),
        (
            ("  loss_over_dpd: 360\n", ""),
            "variant.yaml:24: classification.loss_over_dpd: required key is missing",
        ),
        (("grace_days: 3", "grace_days: 3\nhurry: true"), "variant.yaml:10: hurry: unknown key"),
        (
            ("time_zone: Asia/Shanghai", "time_zone: Mars/Olympus"),
            "variant.yaml:8: time_zone: unknown time zone 'Mars/Olympus'",
        ),
        (  # a folder of the tz database: ZoneInfo raised IsADirectoryError
            ("time_zone: Asia/Shanghai", "time_zone: America"),
            "variant.yaml:8: time_zone: unknown time zone 'America'",
        ),
        (  # ZoneInfo raised OSError: file name too long
            ("time_zone: Asia/Shanghai", "time_zone: " + "a" * 300),
            "variant.yaml:8: time_zone: unknown time zone 'aaa",
        ),
        (
            ("grace_days: 3", "grace_days: !!int x"),
            "variant.yaml:9: not valid YAML: not a valid !!int",
        ),
        (
            ("grace_days: 3", "grace_days: !!timestamp 2020-13-45"),
            "variant.yaml:9: not valid YAML: not a valid !!timestamp: '2020-13-45'",
        ),
        (
            ("grace_days: 3", "grace_days: " + "[" * 999),
            "variant.yaml:9: not valid YAML: nested deeper than 32",
        ),
        (
            ("{label: M2, max_dpd: 60}", "{label: M2, max_dpd: 20}"),
            "variant.yaml:13: buckets: max_dpd must increase from bucket to bucket",
        ),
        (
            ("{label: M6+, max_dpd: null}", "{label: M6+, max_dpd: 400}"),
            "variant.yaml:13: buckets: the last bucket must be open-ended",
        ),
        (
            ("{label: M0, max_dpd: 0}", "{label: M0, max_dpd: 1}"),
            "the first bucket must be the current one",
        ),
        (
            ("{label: M3, max_dpd: 90}", "{label: M1, max_dpd: 90}"),
            "bucket labels must be unique",
        ),
        (
            ("loss_over_dpd: 360", "loss_over_dpd: 200"),
            "variant.yaml:24: classification: each class must start at a higher DPD",
        ),
        (
            ("components: [fees, interest, principal]", "components: [fees, principal]"),
            "variant.yaml:40: waterfall.components: must list each of fees, interest, principal",
        ),
        (
            ("restructured_floor: special_mention", "restructured_floor: fine"),
            "variant.yaml:33: classification.restructured_floor: Input should be 'normal'",
        ),
        (
            (
                "diversion_categories: [securities, property, other_lender]",
                "diversion_categories: [casino]",
            ),
            "variant.yaml:68: features.diversion_categories.0: Input should be 'salary'",
        ),
        (("wake_at_dpd: [1, 8, 30, 60, 90]", "wake_at_dpd: [0]"), "DPD marks must be 1 or more"),
    ],
)
def test_a_wrong_policy_names_the_key_and_its_line(
    replacement: tuple[str, str], message: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        variant(replacement)

    assert str(caught.value).startswith("variant.yaml:")
    assert message in str(caught.value)


def test_not_yaml_or_not_a_mapping_is_refused() -> None:
    with pytest.raises(PolicyError, match="x.yaml:1: not valid YAML"):
        parse_policy("grace_days: [", "x.yaml")
    with pytest.raises(PolicyError, match="x.yaml: expected a mapping"):
        parse_policy("- 1\n- 2\n", "x.yaml")


def test_a_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"

    with pytest.raises(PolicyError, match=f"{missing}: cannot read"):
        load_policy(missing)


def test_a_file_not_in_utf8_is_a_policy_error(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("time_zone: Europe/Z\xfcrich\n".encode("latin-1"))

    with pytest.raises(PolicyError, match=f"{latin1}: not UTF-8"):
        load_policy(latin1)


def test_an_alias_that_contains_itself_is_refused() -> None:
    with pytest.raises(PolicyError, match="x.yaml: "):
        parse_policy("buckets: &b [*b]\n", "x.yaml")


def test_policy_errors_are_rules_errors() -> None:
    assert issubclass(PolicyError, RulesError)


def test_wake_marks_are_sorted_and_unique() -> None:
    policy = variant(("wake_at_dpd: [1, 8, 30, 60, 90]", "wake_at_dpd: [30, 8, 30]"))

    assert policy.wake_at_dpd == (8, 30)


def test_a_custom_grace_and_bucket_table_is_used_by_the_loan() -> None:
    from datetime import date

    from test_loan_builders import lines, open_loan, tick

    policy: Policy = variant(
        ("grace_days: 3", "grace_days: 0"),
        ("{label: M1, max_dpd: 30}", "{label: M1, max_dpd: 15}"),
    )
    loan, _ = open_loan(lines((date(2024, 2, 10), 1000, 0, 0)), date(2024, 1, 10), policy=policy)

    tick(loan, date(2024, 2, 11), policy)
    assert (loan.dpd, loan.bucket) == (1, "M1")
    tick(loan, date(2024, 2, 26), policy)
    assert (loan.dpd, loan.bucket) == (16, "M2")
