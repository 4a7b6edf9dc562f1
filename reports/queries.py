"""The SQL behind each report table, in the dialect ClickHouse 18.16 speaks.

Every query reads its period from the driver's client-side parameters
(``%(first_day)s``, ``%(last_day)s``, ``%(starts)s``, ``%(ends)s``: 18.16 has no
server-side ones) and nothing after the period's last day, so a report run again
later says the same, however much data came since. Each follows the semantics of
the analysts' queries in docs/analytics.md (the state on a day is a step function
of ``loans`` and ``transitions``; reads are ``FINAL``), and the integration tests
hold the report's figures equal to those queries'.

Risk state on a day: ``M0`` / ``normal`` from the disbursement, then each
transition's ``to_label`` from its ``effective_on``; the latest by that day wins,
changes on one day ordered by event time, then the one that agrees with the state
its step ended in, then the cause's id (`_LATEST`), as docs/analytics.md orders them.
"""

from __future__ import annotations

from typing import Any, Protocol

from reports.period import Period

__all__ = ["QUERIES", "Executes", "params", "run_query"]


class Executes(Protocol):
    def execute(self, query: str, params: Any = None) -> Any: ...


def params(period: Period) -> dict[str, Any]:
    """The driver parameters every query may use."""
    return {
        "first_day": period.first_day.isoformat(),
        "last_day": period.last_day.isoformat(),
        "before_day": period.previous_month_end.isoformat(),
        "starts": period.starts,
        "ends": period.ends,
    }


_FIRST = "toDate(%(first_day)s)"
_LAST = "toDate(%(last_day)s)"
_STARTS = "toDateTime(%(starts)s, 'UTC')"
_ENDS = "toDateTime(%(ends)s, 'UTC')"


_LATEST = "(effective_on, at, step_end, cause)"
"""The order of a loan's changes: a loan can move twice on one day (a midnight tick to
``M1``, a repayment that cures it the same morning), so the day alone does not say
which came last."""


def _steps(kind: str, start: str) -> str:
    """Every loan's labels of one kind with the day each applies from, to the last day,
    and what orders changes on one day (`_LATEST`)."""
    return f"""
        SELECT loan_id, disbursed_on AS effective_on, toUnixTimestamp(disbursed_at) AS at,
            toUInt8(1) AS step_end, '' AS cause, '{start}' AS to_label
        FROM loans FINAL WHERE disbursed_on <= {_LAST}
        UNION ALL
        SELECT loan_id, effective_on, ifNull(toUnixTimestamp(event_time), 0) AS at,
            ifNull(to_label = {kind}, 0) AS step_end, ifNull(event_id, '') AS cause, to_label
        FROM transitions FINAL
        WHERE kind = '{kind}' AND effective_on <= {_LAST}"""


def _state_at_end(kind: str, start: str, alias: str) -> str:
    """(loan_id, ``alias``): each loan's label on the period's last day."""
    return f"""
        SELECT loan_id, argMax(to_label, {_LATEST}) AS {alias}
        FROM ({_steps(kind, start)})
        GROUP BY loan_id"""


_BOOK = f"""
    SELECT loan_id, any(currency) AS currency, any(principal) AS principal
    FROM loans FINAL WHERE disbursed_on <= {_LAST}
    GROUP BY loan_id"""


def _portfolio(kind: str, start: str) -> str:
    return f"""
SELECT label, currency, count() AS loans, sum(principal) AS principal_minor
FROM ({_state_at_end(kind, start, "label")})
ANY INNER JOIN ({_BOOK}) USING loan_id
GROUP BY label, currency
ORDER BY currency, label"""


PORTFOLIO_BUCKETS = _portfolio("bucket", "M0")
"""Loans and principal by delinquency bucket on the last day, per currency."""

PORTFOLIO_CLASSES = _portfolio("klass", "normal")
"""Loans and principal by five-category class on the last day, per currency."""

MIGRATIONS = f"""
SELECT kind, from_label, to_label, uniqExact(loan_id) AS loans
FROM transitions FINAL
WHERE effective_on >= {_FIRST} AND effective_on <= {_LAST}
GROUP BY kind, from_label, to_label
ORDER BY kind, from_label, to_label"""
"""Moves of bucket and class within the period (loans that made each move)."""

ROLL_RATES = f"""
SELECT from_bucket, to_bucket, count() AS loans
FROM
(
    SELECT loan_id,
        argMaxIf(to_label, {_LATEST}, effective_on <= toDate(%(before_day)s)) AS from_bucket,
        argMax(to_label, {_LATEST}) AS to_bucket
    FROM ({_steps("bucket", "M0")})
    GROUP BY loan_id
    HAVING from_bucket != ''
)
GROUP BY from_bucket, to_bucket
ORDER BY from_bucket, to_bucket"""
"""Of the loans in each bucket at the end of the month before, where they ended the month."""

VINTAGES = f"""
SELECT cohort, mob, loans, arrayCount(m -> m >= 0 AND m <= mob, bad_mobs) AS bad
FROM
(
    SELECT toStartOfMonth(paid_on) AS cohort, count() AS loans,
        groupArray(if(first_bad = toDate(0), -1,
            toRelativeMonthNum(first_bad) - toRelativeMonthNum(paid_on))) AS bad_mobs
    FROM
    (
        SELECT loan_id, any(disbursed_on) AS paid_on FROM loans FINAL
        WHERE disbursed_on <= {_LAST} GROUP BY loan_id
    )
    ANY LEFT JOIN
    (
        SELECT loan_id, min(effective_on) AS first_bad
        FROM transitions FINAL
        WHERE kind = 'bucket' AND to_label NOT IN ('M0', 'M1') AND effective_on <= {_LAST}
        GROUP BY loan_id
    ) USING loan_id
    GROUP BY cohort
)
ARRAY JOIN range(13) AS mob
WHERE addMonths(cohort, mob) <= {_LAST}
ORDER BY cohort, mob"""
"""Per origination month and month on book: loans, and how many were ever 30+ DPD (M2+)."""

_OPENED = f"""
    SELECT warning_id, any(rule_id) AS rule_id, any(severity) AS severity,
        any(loan_id) AS loan_id, min(event_time) AS opened_at, any(dpd) AS dpd,
        any(bucket) AS bucket, max(ifNull(score, -1)) AS score
    FROM warnings FINAL
    WHERE status = 'open' AND event_time >= {_STARTS} AND event_time < {_ENDS}
    GROUP BY warning_id"""

_RESOLVED = f"""
    SELECT warning_id, 1 AS resolved FROM warnings FINAL
    WHERE status = 'resolved' AND event_time < {_ENDS}
    GROUP BY warning_id"""

_SEVERITY_RANK = (
    "multiIf(severity = 'critical', 0, severity = 'high', 1, severity = 'medium', 2, 3)"
)

WARNINGS_BY_RULE = f"""
SELECT rule_id, severity, count() AS opened, uniqExact(loan_id) AS loans,
    sum(resolved) AS resolved_by_end,
    uniqExactIf(loan_id, end_bucket NOT IN ('M0', 'M1', '')) AS bad_loans
FROM
(
    SELECT * FROM
    (
        SELECT * FROM ({_OPENED})
        ANY LEFT JOIN ({_RESOLVED}) USING warning_id
    )
    ANY LEFT JOIN ({_state_at_end("bucket", "M0", "end_bucket")}) USING loan_id
)
GROUP BY rule_id, severity
ORDER BY {_SEVERITY_RANK}, opened DESC, rule_id"""
"""Warnings opened in the period by rule: loans, resolved by the end, loans 30+ DPD then."""

TOP_WARNINGS = f"""
SELECT opened_at, rule_id, severity, loan_id, dpd, bucket, score, end_bucket, resolved
FROM
(
    SELECT * FROM
    (
        SELECT * FROM ({_OPENED})
        ANY LEFT JOIN ({_RESOLVED}) USING warning_id
    )
    ANY LEFT JOIN ({_state_at_end("bucket", "M0", "end_bucket")}) USING loan_id
)
ORDER BY {_SEVERITY_RANK}, score DESC, opened_at, warning_id
LIMIT 25"""
"""The period's most severe warnings (then highest score) and how each loan stood at the end."""

RULE_PRECISION = f"""
SELECT rule_id, count() AS warned_loans,
    countIf(bad_on != toDate(0) AND bad_on >= warned_on) AS went_bad
FROM
(
    SELECT rule_id, loan_id, min(toDate(event_time)) AS warned_on
    FROM warnings FINAL
    WHERE status = 'open' AND rule_id != 'written_off' AND event_time < {_ENDS}
    GROUP BY rule_id, loan_id
)
ANY LEFT JOIN
(
    SELECT loan_id, min(bad_on) AS bad_on
    FROM
    (
        SELECT loan_id, effective_on AS bad_on FROM transitions FINAL
        WHERE kind = 'bucket' AND to_label IN ('M4', 'M5', 'M6', 'M6+')
            AND effective_on <= {_LAST}
        UNION ALL
        SELECT loan_id, toDate(event_time) AS bad_on FROM warnings FINAL
        WHERE rule_id = 'written_off' AND status = 'open' AND event_time < {_ENDS}
    )
    GROUP BY loan_id
) USING loan_id
GROUP BY rule_id
ORDER BY rule_id"""
"""docs/analytics.md's rule precision, on what was known by the period's end."""

MODEL_METRICS = f"""
SELECT model, partition, argMax(n, produced_at) AS labels,
    argMax(roc_auc, produced_at) AS auc_end, argMax(brier, produced_at) AS brier_end,
    argMax(precision, produced_at) AS precision_end,
    argMax(accuracy, produced_at) AS accuracy_end,
    argMinIf(roc_auc, produced_at, produced_at >= {_STARTS}) AS auc_first,
    argMinIf(brier, produced_at, produced_at >= {_STARTS}) AS brier_first,
    countIf(produced_at >= {_STARTS}) AS checkpoints
FROM model_metrics FINAL
WHERE produced_at < {_ENDS}
GROUP BY model, partition
ORDER BY model, partition"""
"""Each model's latest figures by the end, per partition, and its first in the period
(the change between them is the period's drift in performance)."""

DRIFTS = f"""
SELECT min(event_time) AS detected_at, any(message) AS message
FROM warnings FINAL
WHERE rule_id = 'model_drift' AND status = 'open'
    AND event_time >= {_STARTS} AND event_time < {_ENDS}
GROUP BY warning_id
ORDER BY detected_at, message"""
"""The drift detector's alarms in the period (a `model_drift` warning each)."""

COLLECTIONS = f"""
SELECT kind, name, count() AS actions, uniqExact(loan_id) AS loans,
    uniqExactIf(loan_id, end_bucket = 'M0') AS current_at_end
FROM
(
    SELECT action_id, any(kind) AS kind, any(name) AS name, any(loan_id) AS loan_id
    FROM actions FINAL
    WHERE due_on >= {_FIRST} AND due_on <= {_LAST}
    GROUP BY action_id
)
ANY LEFT JOIN ({_state_at_end("bucket", "M0", "end_bucket")}) USING loan_id
GROUP BY kind, name
ORDER BY kind, actions DESC, name"""
"""Actions due in the period by kind and step, and how many of their loans ended current."""

DATA_LAST_DAY = """
SELECT greatest((SELECT max(effective_on) FROM transitions),
    (SELECT max(disbursed_on) FROM loans))"""
"""The newest day the data covers (as docs/analytics.md's period queries take it)."""

QUERIES: dict[str, str] = {
    "portfolio_buckets": PORTFOLIO_BUCKETS,
    "portfolio_classes": PORTFOLIO_CLASSES,
    "migrations": MIGRATIONS,
    "roll_rates": ROLL_RATES,
    "vintages": VINTAGES,
    "warnings_by_rule": WARNINGS_BY_RULE,
    "top_warnings": TOP_WARNINGS,
    "rule_precision": RULE_PRECISION,
    "model_metrics": MODEL_METRICS,
    "drifts": DRIFTS,
    "collections": COLLECTIONS,
}


def run_query(client: Executes, name: str, period: Period) -> list[tuple[Any, ...]]:
    """The rows of one named query for ``period``."""
    return [tuple(row) for row in client.execute(QUERIES[name], params(period))]
