"""The event handlers: `apply` folds one event into a loan, `advance` moves its clock.

A missed payment is the absence of an event, so time itself must be able to
change a loan: `advance` brings it to a new day. `apply` first decides whether
an event may change the loan at all (a duplicate, or one too late or older
than a barrier, changes nothing and says why), brings the clock to the event's
day, then hands the event to its type's handler (`_DISPATCH`), which either
writes the ledger (`rules.loan.ledger`) or the loan's features.

Flags and transitions: the per-step flags of the vocabulary
(``klass_downgraded``, ``bucket_worsened``, ``installment_missed``,
``cured``, ``promise_broken``) are cleared by `LoanState.begin_step` and set
here and by the ledger; every bucket or class change appends a `Transition`
for the caller to drain.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any, Final

from rules.events import (
    AccountBalance,
    AccountTransaction,
    BureauReport,
    CollateralValuation,
    CollectionNote,
    ContactChange,
    Event,
    RepaymentReceived,
    RepaymentReversed,
    Restructure,
    StatementIssued,
    WriteOff,
)
from rules.loan.ledger import (
    EPOCH,
    MICROSECOND,
    add_entry,
    barrier_event,
    iso,
    micros,
    rerun,
    restructure,
    tick_to,
    write_off,
)
from rules.loan.state import (
    BARRIERS,
    PAY,
    PROMISE,
    REVERSED,
    THIRD_PARTY,
    WRITTEN_OFF,
    Applied,
    LoanState,
    event_key,
)
from rules.policy import Policy

__all__ = ["advance", "apply"]

_APPLIED: Final = Applied()
_APPLIED_LATE: Final = Applied(late=True)
_DUPLICATE: Final = Applied(duplicate=True)
_RESTRUCTURE: Final = 1  # barrier numbers, as `rules.loan.state.BARRIERS` names them
_WRITE_OFF: Final = 2


def advance(state: LoanState, today: date, policy: Policy) -> None:
    """Bring the loan's clock to the start of ``today``.

    Judges every cut-off, lapsed promise and end of observation on the way, so
    a jump of many days gives the same state as daily ticks. Idempotent for the
    same day; never moves backwards.
    """
    day = today.toordinal()
    if day > state.clock_day:
        state._cause = None
        tick_to(state, day, policy)


def apply(state: LoanState, event: Event, policy: Policy) -> Applied:
    """Fold one event into the loan's state.

    A duplicate event id (remembered among the last ``policy.seen_event_ids``,
    or a repayment or promise still in the ledger) changes nothing. An event
    older than the loan's latest event or clock by more than the late window,
    or older than a barrier (disbursement, restructure, write-off), is refused
    with a reason and changes nothing. The clock is first brought to the
    event's day, so time passing is judged before the event itself.
    """
    h = event_key(event.event_id)
    if h in state._seen_set:
        return _DUPLICATE
    moment = event.event_time
    t = (moment - EPOCH) // MICROSECOND
    day = moment.astimezone(policy.zone).toordinal()
    late = t < state._latest_t or day < state.clock_day
    if late:
        # A redelivery the id memory has forgotten is late by nature; the ledger
        # still knows its repayments and promises.
        for entry in state._ledger:
            if entry[1] == h:
                return _DUPLICATE
        reason = _too_late(state, event, t, policy)
        if reason is not None:
            return Applied(rejected=reason)
    refuse, handler = _DISPATCH[event.type]
    if refuse is not None:
        reason = refuse(state, event, t)
        if reason is not None:
            return Applied(rejected=reason)
    if day > state.clock_day:
        state._cause = None
        tick_to(state, day, policy)
    state._cause = event.event_id
    try:
        late |= handler(state, event, policy, t, h, day)
    finally:
        state._cause = None
    state.remember(h)
    if t > state._latest_t:
        state._latest_t = t
    return _APPLIED_LATE if late else _APPLIED


def _too_late(state: LoanState, event: Event, t: int, policy: Policy) -> str | None:
    start = datetime.combine(state.today, time(0), tzinfo=policy.zone)
    reference = max(state._latest_t, micros(start))
    if reference - t <= policy.late_window_us:
        return None
    days, rest = divmod(reference - t, 86_400_000_000)
    hours = rest // 3_600_000_000
    return (
        f"{event.type} at {event.event_time.isoformat()} is {days} days {hours} hours behind "
        f"the loan (latest {iso(reference)}); only events up to "
        f"{policy.late_event_window_days} days late are applied"
    )


# Refusals: checks that need the state, per event type (None: nothing to check).


def _before_barrier(state: LoanState, event: Event, t: int) -> str | None:
    if t > state._barrier_t:
        return None
    return (
        f"{event.type} at {event.event_time.isoformat()} predates the loan's "
        f"{BARRIERS[state._barrier]} at {iso(state._barrier_t)}; history before it "
        "is settled"
    )


def _refuse_disbursement(state: LoanState, event: Event, t: int) -> str | None:
    return f"loan {state.loan_id} is already disbursed; a second loan_disbursed is refused"


def _refuse_reversal(state: LoanState, event: RepaymentReversed, t: int) -> str | None:
    target = event_key(event.reversed_event_id)
    for entry in state._ledger:
        if entry[1] == target and entry[2] == PAY:
            if entry[5] & REVERSED:
                return f"repayment {event.reversed_event_id} is already reversed"
            return None
    return (
        f"repayment {event.reversed_event_id} is not in the loan's ledger (unknown, "
        f"or older than its {BARRIERS[state._barrier]})"
    )


def _refuse_note(state: LoanState, event: CollectionNote, t: int) -> str | None:
    return None if event.promise_to_pay is None else _before_barrier(state, event, t)


def _other_currency(state: LoanState, what: str, currency: str) -> str | None:
    if currency == state.currency:
        return None
    return (
        f"{what} in {currency} but the loan is in {state.currency}; no currency conversion is done"
    )


def _refuse_collateral(state: LoanState, event: CollateralValuation, t: int) -> str | None:
    return _other_currency(state, "collateral valued", event.currency)


def _refuse_statement(state: LoanState, event: StatementIssued, t: int) -> str | None:
    return _other_currency(state, "statement", event.currency)


def _refuse_ending(state: LoanState, event: Restructure | WriteOff, t: int) -> str | None:
    if state.status == WRITTEN_OFF:
        return f"loan {state.loan_id} is already written off"
    return _before_barrier(state, event, t)


_Handler = Callable[[LoanState, Any, Policy, int, int, int], bool]


def _on_repayment(
    state: LoanState, event: RepaymentReceived, policy: Policy, t: int, h: int, day: int
) -> bool:
    flags = 0
    if event.payer_is_third_party:
        state.third_party_repayments += 1
        flags = THIRD_PARTY
    return add_entry(state, (t, h, PAY, day, event.amount, flags), policy)


def _on_reversal(
    state: LoanState, event: RepaymentReversed, policy: Policy, t: int, h: int, day: int
) -> bool:
    target = event_key(event.reversed_event_id)
    ledger = state._ledger
    for i, entry in enumerate(ledger):
        if entry[1] == target and entry[2] == PAY:
            ledger[i] = (*entry[:5], entry[5] | REVERSED)
            break
    rerun(state, policy, day)
    return False


def _on_note(
    state: LoanState, event: CollectionNote, policy: Policy, t: int, h: int, day: int
) -> bool:
    promise = event.promise_to_pay
    if promise is None:
        return False
    entry = (t, h, PROMISE, day, promise.amount, promise.date.toordinal())
    return add_entry(state, entry, policy)


def _on_restructure(
    state: LoanState, event: Restructure, policy: Policy, t: int, h: int, day: int
) -> bool:
    return barrier_event(
        state, t, h, day, lambda: restructure(state, event, day, policy), _RESTRUCTURE, policy
    )


def _on_write_off(
    state: LoanState, event: WriteOff, policy: Policy, t: int, h: int, day: int
) -> bool:
    return barrier_event(state, t, h, day, lambda: write_off(state, event, day), _WRITE_OFF, policy)


def _on_transaction(
    state: LoanState, event: AccountTransaction, policy: Policy, t: int, h: int, day: int
) -> bool:
    state.features.on_transaction(
        day,
        t,
        h,
        event.direction,
        event.amount,
        event.counterparty_category,
        event.currency,
        event.account,
        event.balance_after,
        policy.feature_params,
    )
    return False


def _on_balance(
    state: LoanState, event: AccountBalance, policy: Policy, t: int, h: int, day: int
) -> bool:
    state.features.on_balance(day, t, h, event.account, event.balance, event.currency)
    return False


def _on_bureau(
    state: LoanState, event: BureauReport, policy: Policy, t: int, h: int, day: int
) -> bool:
    state.features.on_bureau(
        t,
        h,
        event.new_delinquencies,
        event.inquiries,
        event.has_lawsuit,
        event.has_enforcement,
    )
    return False


def _on_contact(
    state: LoanState, event: ContactChange, policy: Policy, t: int, h: int, day: int
) -> bool:
    state.features.on_contact_change(day)
    return False


def _on_collateral(
    state: LoanState, event: CollateralValuation, policy: Policy, t: int, h: int, day: int
) -> bool:
    state.features.on_collateral(t, h, event.collateral_id, event.value)
    return False


def _on_statement(
    state: LoanState, event: StatementIssued, policy: Policy, t: int, h: int, day: int
) -> bool:
    state.features.on_statement(
        t,
        h,
        event.previous_balance,
        event.payments,
        event.balance,
        event.minimum_due,
        event.credit_limit,
    )
    return False


def _day_only(state: LoanState, event: Any, policy: Policy, t: int, h: int, day: int) -> bool:
    """Moving the loan to the event's day was all: installment_due (the clock's own
    event), loan_disbursed (always refused on an existing loan), and note_labelled (it teaches
    the worker's text model; the loan keeps only its day and its id, for deduplication)."""
    return False


_Refusal = Callable[[LoanState, Any, int], str | None]

_DISPATCH: Final[dict[str, tuple[_Refusal | None, _Handler]]] = {
    "loan_disbursed": (_refuse_disbursement, _day_only),
    "installment_due": (None, _day_only),
    "repayment_received": (_before_barrier, _on_repayment),
    "repayment_reversed": (_refuse_reversal, _on_reversal),
    "account_transaction": (None, _on_transaction),
    "account_balance": (None, _on_balance),
    "bureau_report": (None, _on_bureau),
    "contact_change": (None, _on_contact),
    "collateral_valuation": (_refuse_collateral, _on_collateral),
    "statement_issued": (_refuse_statement, _on_statement),
    "collection_note": (_refuse_note, _on_note),
    "note_labelled": (None, _day_only),
    "restructure": (_refuse_ending, _on_restructure),
    "write_off": (_refuse_ending, _on_write_off),
}
"""Per event type: its refusal check (or None) and its handler (True: applied late)."""
