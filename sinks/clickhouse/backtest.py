"""Tables of backtest runs (``loanwatch backtest ... --to-clickhouse``, docs/backtest.md).

The other tables are filled from Kafka by the writer; these are written by the
backtest command itself, once per run, so how each rule did can be followed
from one pack version to the next and across histories.

- ``backtest_runs``: one row per run: what was replayed (``source``), with
  which packs (the candidate's and, when compared, the one it was compared
  against: name, version, digest), how it was judged (horizon, outcome DPD,
  models) and the book's figures (events, loans, loan-months, bad loans, base
  rate), with the replays' elapsed seconds.
- ``backtest_rule_results``: one row per run, pack side (``candidate`` or
  ``against``) and signal: ``kind`` is ``rule``, ``severity``, ``paging`` or
  ``pd_threshold``, ``signal`` the rule id, severity, ``paging`` or ``pd>=0.3``,
  with the figures of docs/backtest.md (null where a share has no denominator).

Identity is the run id (and side, kind, signal): writing a run again, or
another run under the same ``--run-id``, collapses into the row with the
latest ``ran_at`` (the version). A rerun that lost a signal leaves that
signal's older row behind, so readers join results to their run on
``(run_id, ran_at)`` (docs/analytics.md). Neither table is partitioned: a run
is a few dozen rows, and copies of one run id must never sit in two parts
that a month boundary keeps apart.
"""

from __future__ import annotations

from sinks.clickhouse.dialect import Column, Kind, Table

__all__ = ["BACKTEST_RULE_RESULTS", "BACKTEST_RUNS"]


def _pack(prefix: str, *, nullable: bool = False) -> tuple[Column, ...]:
    """A pack's name, version and digest."""
    return (
        Column(f"{prefix}_name", Kind.LABEL, nullable),
        Column(f"{prefix}_version", Kind.UINT32, nullable),
        Column(f"{prefix}_digest", Kind.STRING, nullable),
    )


_RUN = (Column("run_id", Kind.STRING), Column("ran_at", Kind.TIME))
"""Every row's run: the identity, and the version (the latest write of a run id wins)."""

BACKTEST_RUNS = Table(
    "backtest_runs",
    (
        *_RUN,
        Column("source", Kind.STRING),
        *_pack("pack"),
        *_pack("against", nullable=True),
        Column("horizon_days", Kind.UINT32),
        Column("outcome_dpd", Kind.UINT32),
        Column("models", Kind.UINT8),
        Column("events", Kind.INT64),
        Column("bad_inputs", Kind.INT64),
        Column("refused", Kind.INT64),
        Column("loans", Kind.UINT32),
        Column("loan_months", Kind.FLOAT64),
        Column("bad_loans", Kind.UINT32),
        Column("base_rate", Kind.FLOAT64, nullable=True),
        Column("elapsed_s", Kind.FLOAT64),
    ),
    order_by=("run_id",),
    engine="ReplacingMergeTree",
    version_column="ran_at",
)

BACKTEST_RULE_RESULTS = Table(
    "backtest_rule_results",
    (
        *_RUN,
        Column("side", Kind.LABEL),  # candidate | against
        *_pack("pack"),
        Column("kind", Kind.LABEL),  # rule | severity | paging | pd_threshold
        Column("signal", Kind.LABEL),
        Column("severity", Kind.LABEL, nullable=True),  # a rule's, or the severity row's own
        Column("alerts", Kind.INT64),
        Column("alerts_per_1k_loan_months", Kind.FLOAT64),
        Column("alerted_loans", Kind.UINT32),
        Column("judged_loans", Kind.UINT32),
        Column("hits", Kind.UINT32),
        Column("precision", Kind.FLOAT64, nullable=True),
        Column("lift", Kind.FLOAT64, nullable=True),
        Column("bad_loans", Kind.UINT32),
        Column("caught", Kind.UINT32),
        Column("recall", Kind.FLOAT64, nullable=True),
        Column("lead_p25", Kind.FLOAT64, nullable=True),
        Column("lead_median", Kind.FLOAT64, nullable=True),
        Column("lead_p75", Kind.FLOAT64, nullable=True),
        Column("current_share", Kind.FLOAT64, nullable=True),
        Column("reports", Kind.INT64),
    ),
    order_by=("run_id", "side", "kind", "signal"),
    engine="ReplacingMergeTree",
    version_column="ran_at",
)
