-- Loans, or their principal, in each delinquency bucket or five-category class, per day
-- of the dashboard's range (to the data's last day). A loan is M0 / normal from its
-- disbursement, then takes each transition's label from its day; changes on one day
-- are ordered by their event time, then the one its step ended in, then the cause's id
-- (docs/analytics.md). ${dimension}: bucket | klass; ${measure}: loans | principal
-- (minor units, as disbursed: the book stores no outstanding balance).
SELECT toDateTime(day) AS time, label, sum(if('${measure}' = 'principal', principal, 1)) AS ${measure}
FROM
(
    SELECT day, loan_id,
        argMaxIf(to_label, (effective_on, at, step_end, cause), effective_on <= day) AS label,
        max(principal) AS principal, max(product) AS product, max(cohort) AS cohort
    FROM
    (
        WITH
            greatest((SELECT max(effective_on) FROM transitions),
                (SELECT max(disbursed_on) FROM loans)) AS last_day,
            toDate($__fromTime) AS first_day
        SELECT first_day + number AS day
        FROM numbers(toUInt64(least(toDate($__toTime) - toDate($__fromTime) + 1, 1830)))
        WHERE day <= last_day
    )
    CROSS JOIN
    (
        SELECT loan_id, disbursed_on AS effective_on, toUnixTimestamp(disbursed_at) AS at,
            toUInt8(1) AS step_end, '' AS cause,
            if('${dimension}' = 'bucket', 'M0', 'normal') AS to_label, principal, product,
            toString(toStartOfMonth(disbursed_on)) AS cohort
        FROM loans FINAL
        UNION ALL
        SELECT loan_id, effective_on, ifNull(toUnixTimestamp(event_time), 0) AS at,
            ifNull(to_label = if('${dimension}' = 'bucket', bucket, klass), 0) AS step_end,
            ifNull(event_id, '') AS cause, to_label,
            toInt64(0) AS principal, '' AS product, '' AS cohort
        FROM transitions FINAL
        WHERE kind = '${dimension}'
    )
    GROUP BY day, loan_id
    HAVING label != '' AND product IN (${product:singlequote}) AND cohort IN (${cohort:singlequote})
)
GROUP BY time, label
ORDER BY time, label
