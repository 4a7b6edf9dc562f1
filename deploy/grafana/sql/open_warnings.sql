-- Warnings open now (opened, not yet resolved) by rule and severity, for the chosen owner
-- teams and for loans of the chosen products and disbursement months.
SELECT rule_id, severity, count() AS open_warnings
FROM
(
    SELECT warning_id, any(rule_id) AS rule_id, any(severity) AS severity
    FROM warnings FINAL
    WHERE owner_team IN (${team:singlequote}) AND loan_id IN
    (
        SELECT loan_id FROM loans FINAL
        WHERE product IN (${product:singlequote}) AND toString(toStartOfMonth(disbursed_on)) IN (${cohort:singlequote})
    )
    GROUP BY warning_id
    HAVING countIf(status = 'resolved') = 0
)
GROUP BY rule_id, severity
ORDER BY open_warnings DESC, rule_id, severity
