"""What simulated collectors write, and what each note really says.

The profiles (`streams.simulate.behaviour`) pick their collection notes from the
templates here. Each template has the intent a collector who reads it would give
(`INTENT_OF`, the labels of `rules.NOTE_INTENTS`), so the simulator can send the
later ``note_labelled`` events a real collection team sends: the text model in
the worker learns from them, and a template the built-in seed misreads is read
right once it has been labelled.

>>> INTENT_OF[REMINDERS[0]]
'other'
>>> sorted(set(INTENT_OF.values()))
['hardship', 'other', 'promise_to_pay', 'refusal', 'unreachable']
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DEFAULT_NOTE",
    "EVASIVE",
    "HARDSHIP",
    "INTENT_OF",
    "REFUSAL",
    "REMINDERS",
    "UNREACHABLE",
]

REMINDERS: Final = (
    "Reminder call: borrower confirms the installment is overdue; salary came late this month.",
    "SMS and call reminder sent; borrower answered and apologised for the delay.",
    "Borrower says the auto-debit account was empty and will transfer the amount.",
)
HARDSHIP: Final = (
    "Borrower reports hospital bills in the family and reduced income; wants to keep paying "
    "but needs a few weeks.",
    "Borrower lost job last month and has no income for now; asks for time until new job starts.",
    "Borrower's shop closed temporarily and cash flow stopped; asks about a payment holiday.",
)
EVASIVE: Final = (
    "Borrower answered, says payment will come next week; gave no reason for the delay.",
    "Borrower says other repayments are due first and will pay us after those.",
)
REFUSAL: Final = (
    "Borrower refuses to pay, disputes the loan fees and says will not pay until terms change.",
    "Borrower says has no intention to repay and asked us to stop calling.",
    "Case escalated; borrower still refuses to pay and rejects any payment plan.",
)
UNREACHABLE: Final = (
    "Phone number unreachable (number not in service); registered address visited, "
    "borrower unknown there.",
    "No answer on any contact; emergency contact says borrower cannot be reached.",
)
DEFAULT_NOTE: Final = (
    "Reminder call: borrower confirms the installment is overdue and will pay soon."
)
"""The note of a profile that says nothing of its own (`LoanSim.note`)."""

INTENT_OF: Final[dict[str, str]] = {
    REMINDERS[0]: "other",  # late salary explains the delay; no promise, no dispute
    REMINDERS[1]: "other",
    REMINDERS[2]: "promise_to_pay",
    **dict.fromkeys(HARDSHIP, "hardship"),
    # Evasive borrowers do promise, vaguely; the promise is what they break.
    **dict.fromkeys(EVASIVE, "promise_to_pay"),
    # The first mentions the fees, but it is a refusal: nothing will be paid.
    **dict.fromkeys(REFUSAL, "refusal"),
    **dict.fromkeys(UNREACHABLE, "unreachable"),
    DEFAULT_NOTE: "promise_to_pay",
}
"""Each template's true intent: what a collector labels the note as, days later."""
