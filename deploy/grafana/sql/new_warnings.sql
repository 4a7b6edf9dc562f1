-- Warnings opened per day (UTC) in the dashboard's range, by severity and rule, for the
-- chosen owner teams and for loans of the chosen products and disbursement months.
SELECT toDateTime(toDate(event_time)) AS time, concat(severity, ' ', rule_id) AS rule,
    count() AS warnings
FROM warnings FINAL
WHERE status = 'open' AND $__timeFilter(event_time) AND owner_team IN (${team:singlequote})
    AND loan_id IN
    (
        SELECT loan_id FROM loans FINAL
        WHERE product IN (${product:singlequote}) AND toString(toStartOfMonth(disbursed_on)) IN (${cohort:singlequote})
    )
GROUP BY time, rule
ORDER BY time, rule
