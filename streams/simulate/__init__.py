"""A synthetic, seeded loan book for demos, benchmarks and end-to-end tests.

`LoanBook` turns a `BookSpec` (loans, months, seed) into one time-ordered
stream of contract events (`rules.events`) from borrowers who follow hidden
behaviour profiles, and a ground-truth `LoanLabel` per loan saying which
warning signals the stream really shows. `produce_book` sends the stream to
Kafka at a chosen rate, `write_book` to a JSON-lines file, and
`simulate_command` does a whole run for ``loanwatch simulate``. `sample_loan`
builds one plain loan of a known shape, for the smoke test, benchmarks and tests.
docs/simulator.md describes the profiles and the signal vocabulary.

>>> book = LoanBook(BookSpec(loans=2, months=3, seed=1))
>>> next(iter(book)).type
'loan_disbursed'
"""

from __future__ import annotations

from streams.simulate.book import DEFAULT_START, BookSpec, BookStats, LoanBook
from streams.simulate.command import SimulationSummary, simulate_command
from streams.simulate.exceptions import SimulateError
from streams.simulate.producer import (
    PRODUCER_TUNING,
    ProduceReport,
    TokenBucket,
    produce_book,
    write_book,
    write_labels,
)
from streams.simulate.products import PRODUCTS, Product
from streams.simulate.profiles import DIVERSION_CATEGORIES, PROFILE_WEIGHTS, Profile, Signal
from streams.simulate.sample import equal_schedule, sample_loan
from streams.simulate.truth import INQUIRY_SURGE_MIN, NEAR_MISS_DAYS, LoanLabel

__all__ = [
    "DEFAULT_START",
    "DIVERSION_CATEGORIES",
    "INQUIRY_SURGE_MIN",
    "NEAR_MISS_DAYS",
    "PRODUCER_TUNING",
    "PRODUCTS",
    "PROFILE_WEIGHTS",
    "BookSpec",
    "BookStats",
    "LoanBook",
    "LoanLabel",
    "ProduceReport",
    "Product",
    "Profile",
    "Signal",
    "SimulateError",
    "SimulationSummary",
    "TokenBucket",
    "produce_book",
    "simulate_command",
    "write_book",
    "equal_schedule",
    "sample_loan",
    "write_labels",
]
