-- Vintage triangle: per disbursement month, the cumulative share of its loans that were
-- ever 30+ days past due (bucket M2 or worse) by months on book, up to the end of the
-- dashboard's range or of the data, whichever comes first.
SELECT cohort, mob, loans, round(arrayCount(m -> m >= 0 AND m <= mob, bad_mobs) / loans, 4) AS bad_rate
FROM
(
    SELECT toString(toStartOfMonth(disbursed_on)) AS cohort, count() AS loans,
        groupArray(if(first_bad = toDate(0), -1,
            toRelativeMonthNum(first_bad) - toRelativeMonthNum(disbursed_on))) AS bad_mobs
    FROM loans FINAL
    ANY LEFT JOIN
    (
        SELECT loan_id, min(effective_on) AS first_bad
        FROM transitions FINAL
        WHERE kind = 'bucket' AND to_label NOT IN ('M0', 'M1')
        GROUP BY loan_id
    ) USING loan_id
    WHERE product IN (${product:singlequote}) AND toString(toStartOfMonth(disbursed_on)) IN (${cohort:singlequote})
    GROUP BY cohort
)
ARRAY JOIN range(121) AS mob
WHERE addMonths(toDate(cohort), mob)
    <= least(toDate($__toTime), (SELECT max(effective_on) FROM transitions))
ORDER BY cohort, mob
