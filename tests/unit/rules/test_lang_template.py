"""Message templates: vocabulary placeholders only, checked at load, rendered safely."""

from __future__ import annotations

import pytest

from rules.lang import ExpressionError, compile_template
from rules.lang.template import MISSING
from rules.lang.testing import sample_context


def test_placeholders_render_vocabulary_values_with_format_specs() -> None:
    template = compile_template(
        "DPD reached {loan.dpd} days ({loan.bucket}), PD {model.pd:.2f},"
        " drop {features.balance_drop_7d:.0%}"
    )
    ctx = sample_context(
        loan={"dpd": 31, "bucket": "M2"}, features={"balance_drop_7d": 0.5}, scores={"pd": 0.4242}
    )

    assert template.render(ctx) == "DPD reached 31 days (M2), PD 0.42, drop 50%"
    assert template.names == {"loan.dpd", "loan.bucket", "model.pd", "features.balance_drop_7d"}


def test_none_renders_as_a_marker_not_as_an_error() -> None:
    template = compile_template("balance {features.balance:,d}; kind {event.kind}")

    assert template.render(sample_context()) == f"balance {MISSING}; kind {MISSING}"


def test_doubled_braces_are_literal() -> None:
    template = compile_template("{{not a field}} {loan.dpd}")

    assert template.render(sample_context(loan={"dpd": 3})) == "{not a field} 3"


def test_values_are_not_formatted_again() -> None:
    # A value that looks like a template is printed as-is, never expanded.
    template = compile_template("kind {event.kind}")
    ctx = sample_context(event={"type": "repayment_received", "kind": "{loan.__class__}"})

    assert template.render(ctx) == "kind {loan.__class__}"


def test_a_value_of_an_unexpected_type_still_renders() -> None:
    template = compile_template("{loan.dpd:d} days")

    assert template.render(sample_context(loan={"dpd": 2.5})) == "2.5 days"


REJECTED = {
    "{loan.dpdd} days": "unknown name loan.dpdd (did you mean loan.dpd?)",
    "{loan.__class__}": "unknown name loan.__class__",
    "{loan.dpd.__class__.__init__.__globals__}": "unknown name",
    "{loan.dpd[0]}": "unknown name loan.dpd[0]",
    "{0}": "unknown name 0",
    "{}": "empty placeholder",
    "{loan.dpd!r}": "conversions (!r) are not allowed",
    "{loan.bucket:.2f}": "format spec :.2f does not suit str loan.bucket",
    "{model.pd:d}": "format spec :d does not suit float model.pd",
    "{loan.dpd:{loan.dpd}}": "format spec :{loan.dpd} is not allowed",
    "{loan.dpd:999999999}": "format spec :999999999 is not allowed",
    "{loan.dpd": "bad braces",
    "loan.dpd}": "bad braces",
    "   ": "empty message",
}


@pytest.mark.parametrize(("text", "reason"), REJECTED.items(), ids=list(REJECTED))
def test_bad_templates_are_rejected_at_load(text: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_template(text)

    assert reason in caught.value.reason


def test_templates_compare_by_text() -> None:
    assert compile_template("{loan.dpd}") == compile_template("{loan.dpd}")
    assert len({compile_template("{loan.dpd}"), compile_template("{loan.dpd}")}) == 1


def test_a_character_spec_on_a_large_amount_renders_the_number() -> None:
    template = compile_template("{loan.outstanding_principal:c}")

    assert template.render(sample_context(loan={"outstanding_principal": 1_200_000})) == "1200000"


def test_money_renders_in_the_loans_currency_and_an_account_events_own() -> None:
    template = compile_template("{loan.overdue_total} overdue; moved {event.amount}")
    ctx = sample_context(
        loan={"overdue_total": 50600},
        event={"type": "account_transaction", "amount": 1_250_000_50, "currency": "USD"},
    )
    ctx.loan.currency = "CNY"

    assert template.render(ctx) == "CNY 506.00 overdue; moved USD 1,250,000.50"


def test_money_with_a_format_spec_of_its_own_keeps_its_minor_units() -> None:
    ctx = sample_context(loan={"overdue_total": 50600})
    ctx.loan.currency = "CNY"

    assert compile_template("{loan.overdue_total:d}").render(ctx) == "50600"


def test_a_repayments_amount_is_in_the_loans_currency() -> None:
    ctx = sample_context(event={"type": "repayment_received", "amount": 1500})
    ctx.loan.currency = "JPY"

    assert compile_template("{event.amount}").render(ctx) == "JPY 1,500"
