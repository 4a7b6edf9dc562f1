-- Roll rates for one month: of the loans in each bucket at the end of the month, how
-- many, and what share, are in each bucket at the end of the next. The month is the
-- last one whose next month ends within both the dashboard's range and the data. Changes
-- on one day are ordered as in state_by_day.sql.
SELECT month, from_bucket, to_bucket, loans, round(loans / cohort, 4) AS roll_rate
FROM
(
    SELECT month, from_bucket, groupArray(to_bucket) AS tos, groupArray(n) AS counts,
        sum(n) AS cohort
    FROM
    (
        SELECT month, from_bucket, to_bucket, count() AS n
        FROM
        (
            SELECT month, loan_id,
                argMaxIf(to_label, (effective_on, at, step_end, cause),
                    effective_on < addMonths(month, 1)) AS from_bucket,
                argMaxIf(to_label, (effective_on, at, step_end, cause),
                    effective_on < addMonths(month, 2)) AS to_bucket,
                max(product) AS product, max(cohort) AS cohort
            FROM
            (
                WITH
                    greatest((SELECT max(effective_on) FROM transitions),
                        (SELECT max(disbursed_on) FROM loans)) AS last_day,
                    least(toDate($__toTime), last_day) AS end_day
                SELECT addMonths(toStartOfMonth(addDays(end_day, 1)), -2) AS month
            )
            CROSS JOIN
            (
                SELECT loan_id, disbursed_on AS effective_on, toUnixTimestamp(disbursed_at) AS at,
                    toUInt8(1) AS step_end, '' AS cause, 'M0' AS to_label, product,
                    toString(toStartOfMonth(disbursed_on)) AS cohort
                FROM loans FINAL
                UNION ALL
                SELECT loan_id, effective_on, ifNull(toUnixTimestamp(event_time), 0) AS at,
                    ifNull(to_label = bucket, 0) AS step_end, ifNull(event_id, '') AS cause,
                    to_label, '' AS product, '' AS cohort
                FROM transitions FINAL
                WHERE kind = 'bucket'
            )
            GROUP BY month, loan_id
            HAVING from_bucket != '' AND product IN (${product:singlequote})
                AND cohort IN (${cohort:singlequote})
        )
        GROUP BY month, from_bucket, to_bucket
    )
    GROUP BY month, from_bucket
)
ARRAY JOIN tos AS to_bucket, counts AS loans
ORDER BY from_bucket, to_bucket
