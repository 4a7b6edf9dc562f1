"""Benchmark of the pure risk core: events/s, ticks/s and bytes of state per loan.

Runs N synthetic loans (12 monthly installments; a mix of on-time, late,
partial and missed payers, with account transactions between due dates)
through `Engine.step` with the default rule pack, in event-time order, with
daily clock ticks for the loans the due index says need one. Prints the
figures and, measured in the same run, a baseline: decoding the same events
from JSON and touching a dict per event (the floor any per-event work pays),
so the ratio holds on a noisy machine where absolute times do not.

``record_roundtrip_us`` encodes and decodes every loan's record one after the
other (cold: each record was last touched long before); ``to_bytes_after_step_us``
is what the worker pays per event, encoding the record it has just stepped
(measured in a second pass over the first 20,000 events, so the step figures
stay comparable with older runs), and ``events_per_s_with_write`` counts both.
``clamped_wakeups`` counts the steps whose wake-up the engine had to move off a
day already judged (`rules.core.StepResult.clamped_wakeup`): it should be 0.

    .venv/bin/python bench/core.py --loans 2000

Ends with one JSON line:
{"events_per_s": .., "ticks_per_s": .., "bytes_per_loan": .., ...}
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from rules import (
    AccountTransaction,
    Event,
    RepaymentReceived,
    decode_event,
    encode_event,
)
from rules.clock import DueIndex
from rules.core import Engine, LoanRecord, Tick
from rules.pack import default_pack
from rules.policy import load_policy
from rules.workflows import load_workflow_policy
from streams.simulate import sample_loan

START = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)


def loan_events(n: int, rng: random.Random) -> list[Event]:
    """One loan's events: disbursement, repayments by profile, account activity."""
    loan_id, borrower = f"L{n:07d}", f"bw-{n:07d}"
    opened = START + timedelta(hours=rng.randrange(0, 24 * 28))
    first_due = (opened + timedelta(days=30)).date()
    env: dict[str, Any] = {"loan_id": loan_id, "borrower_id": borrower, "schema_version": 1}
    disbursed = sample_loan(
        loan_id,
        opened,
        first_due=first_due,
        installments=12,
        principal=100_000,
        interest=2_000,
        borrower_id=borrower,
        account=f"a-{n}",
        source="bench",
    )
    events: list[Event] = [disbursed]
    profile = rng.random()
    for line in disbursed.schedule:
        due = datetime.combine(line.due_date, opened.timetz())
        for k in range(3):  # salary in, spending out, spending out
            events.append(
                AccountTransaction(
                    event_id=f"{loan_id}-t{line.seq}-{k}",
                    event_time=due - timedelta(days=20 - 5 * k),
                    source="bench",
                    account=f"a-{n}",
                    direction="in" if k == 0 else "out",
                    amount=rng.randrange(50_000, 500_000),
                    currency="CNY",
                    counterparty_category="salary" if k == 0 else "merchant",
                    balance_after=rng.randrange(0, 900_000),
                    **env,
                )
            )
        if profile < 0.7:  # on time
            pays = [(due - timedelta(days=rng.randrange(0, 5)), 102_000)]
        elif profile < 0.85:  # late
            pays = [(due + timedelta(days=rng.randrange(1, 40)), 102_000)]
        elif profile < 0.95:  # partial, then the rest
            pays = [(due, 60_000), (due + timedelta(days=10), 42_000)]
        else:  # stops paying after a few installments
            pays = [] if line.seq > 3 else [(due, 102_000)]
        for j, (when, amount) in enumerate(pays):
            events.append(
                RepaymentReceived(
                    event_id=f"{loan_id}-r{line.seq}-{j}",
                    event_time=when,
                    source="bench",
                    amount=amount,
                    kind="partial" if amount < 102_000 else "full",
                    payer_account=f"a-{n}",
                    payer_is_third_party=False,
                    channel="app",
                    **env,
                )
            )
    events.sort(key=lambda e: e.event_time)
    return events


def run(loans: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    engine = Engine(default_pack(), load_policy(), load_workflow_policy())
    zone = engine.zone
    streams = [loan_events(n, rng) for n in range(loans)]
    merged = list(heapq.merge(*streams, key=lambda e: e.event_time))
    raw = [encode_event(e) for e in merged]

    # Baseline, same inputs: JSON decode plus one dict write per event.
    seen: dict[str, bytes] = {}
    t0 = time.perf_counter()
    for payload in raw:
        body = orjson.loads(payload)
        seen[body["loan_id"]] = payload
    baseline_s = time.perf_counter() - t0

    records: dict[str, LoanRecord | None] = {}
    index = DueIndex()
    now = datetime.now(UTC)
    event_s = tick_s = serialize_s = 0.0
    ticks = warnings = actions = clamped = 0
    day = merged[0].event_time.astimezone(zone).date()
    for event in merged:
        event_day = event.event_time.astimezone(zone).date()
        while day < event_day:  # the clock: a tick for each loan whose wake-up day came
            day += timedelta(days=1)
            due = index.pop_due(day)
            t0 = time.perf_counter()
            for loan_id in due:
                record, result = engine.step(records[loan_id], Tick(loan_id, day), now)
                records[loan_id] = record
                index.set(loan_id, result.wakeup)
                warnings += len(result.warnings)
                actions += len(result.actions)
                clamped += result.clamped_wakeup is not None
            tick_s += time.perf_counter() - t0
            ticks += len(due)
        t0 = time.perf_counter()
        record, result = engine.step(records.get(event.loan_id), event, now)
        event_s += time.perf_counter() - t0
        records[event.loan_id] = record
        index.set(event.loan_id, result.wakeup)
        warnings += len(result.warnings)
        actions += len(result.actions)
        clamped += result.clamped_wakeup is not None

    sizes = []
    t0 = time.perf_counter()
    for record in records.values():
        if record is not None:
            blob = record.to_bytes()
            LoanRecord.from_bytes(blob)
            sizes.append(len(blob))
    serialize_s = (time.perf_counter() - t0) / max(1, len(sizes))

    # What the worker pays per event to write the record it has just stepped, in a
    # pass of its own (the figures above stay comparable with runs that had none).
    fresh: dict[str, LoanRecord | None] = {}
    write_s = 0.0
    for event in merged[:20_000]:
        record, _ = engine.step(fresh.get(event.loan_id), event, now)
        fresh[event.loan_id] = record
        if record is not None:
            t0 = time.perf_counter()
            record.to_bytes()
            write_s += time.perf_counter() - t0
    write_us = write_s / min(len(merged), 20_000) * 1e6

    # Decode cost per event, to show where the worker's time goes.
    t0 = time.perf_counter()
    for payload in raw[:20_000]:
        decode_event(payload)
    decode_us = (time.perf_counter() - t0) / min(len(raw), 20_000) * 1e6

    return {
        "loans": loans,
        "events": len(merged),
        "ticks": ticks,
        "warnings": warnings,
        "actions": actions,
        "clamped_wakeups": clamped,
        "events_per_s": round(len(merged) / event_s),
        "ticks_per_s": round(ticks / tick_s) if tick_s else None,
        "bytes_per_loan": round(sum(sizes) / len(sizes)),
        "max_bytes_per_loan": max(sizes),
        "baseline_events_per_s": round(len(merged) / baseline_s),
        "ratio_vs_baseline": round(baseline_s / event_s, 3),
        "decode_us_per_event": round(decode_us, 2),
        "record_roundtrip_us": round(serialize_s * 1e6, 2),
        "to_bytes_after_step_us": round(write_us, 2),
        "events_per_s_with_write": round(1e6 / (event_s / len(merged) * 1e6 + write_us)),
        "simulated_days": (day - merged[0].event_time.astimezone(zone).date()).days,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loans", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    figures = run(args.loans, args.seed)
    for key, value in figures.items():
        print(f"{key:>24}: {value}", file=sys.stderr)
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
