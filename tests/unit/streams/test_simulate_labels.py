"""Ground-truth labels: consistent with the events, with the profiles, and documented."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import accumulate
from pathlib import Path

import orjson
import pytest

from rules import Event, Installment
from streams.simulate import (
    PROFILE_WEIGHTS,
    BookSpec,
    LoanBook,
    LoanLabel,
    Profile,
    Signal,
    write_labels,
)

DOC = Path(__file__).resolve().parents[3] / "docs" / "simulator.md"
SPEC = BookSpec(loans=1_200, months=12, seed=77)
_EPOCH = date(1970, 1, 1)


class Run:
    def __init__(self) -> None:
        book = LoanBook(SPEC)
        self.streamed: list[LoanLabel] = []
        self.events: dict[str, list[Event]] = defaultdict(list)
        for event in book.events(on_label=self.streamed.append):
            self.events[event.loan_id].append(event)
        self.labels = {label.loan_id: label for label in self.streamed}
        self.last_day = _day(datetime.fromtimestamp(book.end_ts - 1, _CST))
        self.book = book

    def of(self, profile: Profile) -> list[LoanLabel]:
        return [label for label in self.labels.values() if label.profile == profile]


_CST = datetime.fromisoformat("2024-01-01T00:00:00+08:00").tzinfo


@pytest.fixture(scope="module")
def run() -> Run:
    return Run()


def _day(moment: datetime | date) -> int:
    if isinstance(moment, datetime):
        moment = moment.astimezone(_CST).date()
    return (moment - _EPOCH).days


@dataclass
class _Segment:
    schedule: tuple[Installment, ...]
    pays: list[tuple[int, int]] = field(default_factory=list)
    end: int | None = None


def oracle_max_dpd(events: list[Event], last_day: int) -> int:
    """Max days past due, from the events alone.

    Each schedule (disbursement, then any restructure) is a segment; reversed
    repayments never count; an installment's days late run from its due day
    to the day net repayments first cover it, or to the segment's end
    (restructure, write-off) or the period's last day if they never do.
    """
    reversed_ids = {e.reversed_event_id for e in events if e.type == "repayment_reversed"}
    segments: list[_Segment] = []
    for e in events:
        if e.type in ("loan_disbursed", "restructure"):
            if segments:
                segments[-1].end = _day(e.event_time)
            segments.append(_Segment(e.schedule))
        elif e.type == "repayment_received" and e.event_id not in reversed_ids:
            segments[-1].pays.append((_day(e.event_time), e.amount))
        elif e.type == "write_off":
            segments[-1].end = _day(e.event_time)
    worst = 0
    for seg in segments:
        paid_by = list(accumulate(amount for _, amount in seg.pays))
        dues = accumulate(i.principal + i.interest + i.fees for i in seg.schedule)
        stop = seg.end if seg.end is not None else last_day
        for line, due_total in zip(seg.schedule, dues, strict=True):
            due = _day(line.due_date)
            if due > last_day or (seg.end is not None and due >= seg.end):
                continue  # not yet due, or replaced before it fell due
            cover = next((seg.pays[k][0] for k, p in enumerate(paid_by) if p >= due_total), stop)
            worst = max(worst, cover - due)
    return worst


def test_labels_streamed_during_the_run_equal_labels_computed_alone(run: Run) -> None:
    assert sorted(run.streamed, key=lambda x: x.loan_id) == list(run.book.labels())


def test_every_loan_has_one_label_counting_its_events(run: Run) -> None:
    assert len(run.labels) == SPEC.loans
    for loan_id, events in run.events.items():
        label = run.labels[loan_id]
        assert label.events == len(events)
        assert label.borrower_id == events[0].borrower_id
        assert label.product == events[0].product


def test_max_dpd_agrees_with_an_independent_reading_of_the_events(run: Run) -> None:
    for loan_id, events in run.events.items():
        assert run.labels[loan_id].max_dpd == oracle_max_dpd(events, run.last_day), loan_id


def test_dpd_signals_default_and_first_bad_date_follow_max_dpd(run: Run) -> None:
    for label in run.labels.values():
        signals = set(label.expected_signals)
        for threshold, signal in ((1, Signal.DPD_1), (30, Signal.DPD_30), (90, Signal.DPD_90)):
            assert (signal in signals) == (label.max_dpd >= threshold), label.loan_id
        written_off = Signal.WRITE_OFF in signals
        assert label.defaulted == (label.max_dpd >= 90 or written_off)
        assert (label.first_bad_date is not None) == label.defaulted
        if label.first_bad_date is not None:
            seen = label.signals_first_seen
            bad = [seen[s] for s in (Signal.DPD_90, Signal.WRITE_OFF) if s in seen]
            assert label.first_bad_date == min(bad)


def test_signals_are_in_vocabulary_order_with_a_first_seen_date_each(run: Run) -> None:
    order = list(Signal)
    for label in run.labels.values():
        assert list(label.expected_signals) == sorted(label.expected_signals, key=order.index)
        assert set(label.signals_first_seen) == set(label.expected_signals)


def test_profile_mix_follows_the_documented_weights(run: Run) -> None:
    counts = Counter(label.profile for label in run.labels.values())
    for profile, weight in PROFILE_WEIGHTS.items():
        assert abs(counts[profile] / SPEC.loans - weight) < 0.03, profile


def test_labels_match_what_each_profile_does(run: Run) -> None:
    def share(profile: Profile, signal: Signal) -> float:
        labels = run.of(profile)
        return sum(signal in label.expected_signals for label in labels) / len(labels)

    good = run.of(Profile.GOOD_PAYER)
    assert not any(label.max_dpd or label.defaulted for label in good)
    assert all(label.max_dpd <= 25 and not label.defaulted for label in run.of(Profile.LATE_PAYER))
    assert share(Profile.LATE_PAYER, Signal.DPD_1) > 0.9
    assert share(Profile.FUND_DIVERSION, Signal.FUND_DIVERSION) == 1.0
    assert share(Profile.MULTI_LENDER, Signal.MULTI_LENDING) == 1.0
    assert share(Profile.MULTI_LENDER, Signal.INQUIRY_SURGE) > 0.9
    assert share(Profile.HARDSHIP_CURE, Signal.INCOME_STOPPED) > 0.9
    assert share(Profile.HARDSHIP_CURE, Signal.BALANCE_DROP) > 0.9
    assert not any(label.defaulted for label in run.of(Profile.HARDSHIP_CURE))
    assert share(Profile.STRATEGIC_DEFAULT, Signal.REFUSAL) > 0.8
    assert share(Profile.STRATEGIC_DEFAULT, Signal.DPD_60) > 0.8
    assert share(Profile.FRAUD, Signal.UNREACHABLE) == 1.0
    assert share(Profile.FRAUD, Signal.CONTACT_CHANGE_NEAR_MISS) > 0.9
    assert share(Profile.FRAUD, Signal.FIRST_PAYMENT_DEFAULT) > 0.9
    # Signals no profile is built to show stay out of the good book.
    for signal in (Signal.FUND_DIVERSION, Signal.MULTI_LENDING, Signal.HARDSHIP, Signal.REFUSAL):
        assert share(Profile.GOOD_PAYER, signal) == 0.0


def test_every_signal_occurs_somewhere_in_a_year_long_book(run: Run) -> None:
    seen = {signal for label in run.labels.values() for signal in label.expected_signals}
    assert seen == set(Signal)


def test_labels_are_written_as_json_lines(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    labels = sorted(run.labels.values(), key=lambda x: x.loan_id)[:50]
    assert write_labels(labels, path) == 50
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [row["loan_id"] for row in rows] == [label.loan_id for label in labels]
    assert set(rows[0]) == {
        "loan_id",
        "borrower_id",
        "profile",
        "product",
        "expected_signals",
        "signals_first_seen",
        "defaulted",
        "first_bad_date",
        "max_dpd",
        "events",
    }
    assert all(row["profile"] in {p.value for p in Profile} for row in rows)
    assert all(set(row["expected_signals"]) <= {s.value for s in Signal} for row in rows)


def test_docs_define_every_signal_and_quote_every_profile_weight() -> None:
    text = DOC.read_text(encoding="utf-8")
    for signal in Signal:
        assert re.search(rf"^\| `{signal.value}` \|", text, re.MULTILINE), signal
    for profile, weight in PROFILE_WEIGHTS.items():
        assert re.search(rf"^\| `{profile.value}` \| {weight:.2f} \|", text, re.MULTILINE), profile
