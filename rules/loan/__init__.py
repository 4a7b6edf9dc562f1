"""One loan's state: schedule, repayments, days past due, bucket and class.

`LoanState` is what the monitor knows about one loan; `from_disbursement` starts it
from a disbursement, `apply` folds one event into it and `advance` moves its
clock to a new day (a missed payment is the absence of an event, so time itself
must be able to change a loan). The state is a mutable slots dataclass owned by
the caller, updated in place: copying a loan per event would cost more than
judging it.

One module per idea, each importing only the ones above it:

- `rules.loan.state`: the fields and the read properties rules see;
- `rules.loan.ledger`: the timeline, replayed from the ledger and moved by time;
- `rules.loan.codec`: the state as bytes and back (`loan_to_bytes`, `loan_from_bytes`);
- `rules.loan.handlers`: `apply` and `advance`, one handler per event type.

Time
    Days are calendar days in the policy's time zone, kept as ordinals. A due
    date D counts as missed at the start of day D + grace + 1; from then on DPD
    counts from the due date, so on that day DPD is grace + 1 (within grace it
    is 0). Payments made on day D + grace are in time.

The timeline and the ledger
    Everything time-ordered about repayment (repayments, reversals, promises to
    pay) is kept in a bounded ledger of entries sorted by (event time, event id
    hash). In-order entries are applied incrementally; a reversal or a late
    entry instead re-runs the timeline from its base (the state before the
    first entry), so the result is the one in-order arrival would have given:
    the final state is a function of the events, not of their arrival order.
    Restructuring and write-off are barriers: the ledger is folded into the
    base there, and events older than a barrier are refused with a reason (a
    new schedule is authoritative for what was owed before it). When the
    ledger outgrows ``policy.ledger_size``, its oldest entries past the late
    window are folded into the base the same way.

Flags and transitions
    The per-step flags of the vocabulary (``klass_downgraded``,
    ``bucket_worsened``, ``installment_missed``, ``cured``,
    ``promise_broken``) are cleared by `LoanState.begin_step` and set by
    `apply` and `advance`. Every bucket or class change appends a `Transition`
    for the caller to drain. A re-run reports its net effect once, dated on the
    day of the event that caused it.

Money is integer minor units throughout.

Examples
--------
>>> from datetime import date, datetime, timezone, timedelta
>>> from rules.events import LoanDisbursed, RepaymentReceived
>>> from rules.policy import load_policy
>>> policy = load_policy()
>>> cst = timezone(timedelta(hours=8))
>>> envelope = dict(loan_id="L1", borrower_id="b-1", source="core", schema_version=1)
>>> loan = from_disbursement(LoanDisbursed(
...     event_id="d1", event_time=datetime(2024, 1, 1, 9, tzinfo=cst), principal=2000,
...     currency="CNY", product="p", disbursed_account="a", interest_rate_bps=1200,
...     schedule=[{"seq": 1, "due_date": "2024-02-01", "principal": 1000, "interest": 20,
...                "fees": 0},
...               {"seq": 2, "due_date": "2024-03-01", "principal": 1000, "interest": 10,
...                "fees": 0}], **envelope), policy)
>>> advance(loan, date(2024, 2, 4), policy)  # due + grace: still current
>>> loan.dpd, loan.bucket
(0, 'M0')
>>> advance(loan, date(2024, 2, 5), policy)  # missed at the start of due + grace + 1
>>> loan.dpd, loan.bucket, loan.klass, loan.installment_missed
(4, 'M1', 'special_mention', True)
>>> apply(loan, RepaymentReceived(
...     event_id="r1", event_time=datetime(2024, 2, 6, 10, tzinfo=cst), amount=1020,
...     kind="full", payer_account="a", payer_is_third_party=False, channel="app",
...     **envelope), policy)
Applied(duplicate=False, rejected=None, late=False)
>>> loan.dpd, loan.bucket, loan.klass, loan.cured
(0, 'M0', 'special_mention', True)
"""

from __future__ import annotations

from rules.loan.codec import FORMAT, LoanStateError, loan_from_bytes, loan_to_bytes
from rules.loan.handlers import advance, apply
from rules.loan.ledger import from_disbursement
from rules.loan.state import (
    ACTIVE,
    CLOSED,
    WRITTEN_OFF,
    Applied,
    LoanState,
    Transition,
    event_key,
)

__all__ = [
    "ACTIVE",
    "CLOSED",
    "FORMAT",
    "WRITTEN_OFF",
    "Applied",
    "LoanState",
    "LoanStateError",
    "Transition",
    "advance",
    "apply",
    "event_key",
    "loan_from_bytes",
    "from_disbursement",
    "loan_to_bytes",
]
