-- The 50 loans with open warnings that stand worst: the most days past due first, then
-- the most open warnings and the highest model score. The state (DPD, bucket, class) is
-- the one their latest warning carried. Loan ids only: no borrower identity.
SELECT loan_id, product, principal, dpd, bucket, klass, open_warnings, rules, max_score
FROM
(
    SELECT loan AS loan_id, argMax(w_dpd, at) AS dpd, argMax(w_bucket, at) AS bucket,
        argMax(w_klass, at) AS klass, countIf(still_open) AS open_warnings,
        arrayStringConcat(arraySort(groupUniqArrayIf(rule, still_open)), ', ') AS rules,
        max(w_score) AS max_score
    FROM
    (
        SELECT warning_id, any(loan_id) AS loan, any(rule_id) AS rule, max(event_time) AS at,
            argMax(dpd, event_time) AS w_dpd, argMax(bucket, event_time) AS w_bucket,
            argMax(klass, event_time) AS w_klass, max(score) AS w_score,
            countIf(status = 'resolved') = 0 AS still_open
        FROM warnings FINAL
        WHERE owner_team IN (${team:singlequote})
        GROUP BY warning_id
    )
    GROUP BY loan
    HAVING open_warnings > 0
)
ALL INNER JOIN
(
    SELECT loan_id, product, principal FROM loans FINAL
    WHERE product IN (${product:singlequote}) AND toString(toStartOfMonth(disbursed_on)) IN (${cohort:singlequote})
) USING loan_id
ORDER BY dpd DESC, open_warnings DESC, max_score DESC, loan_id
LIMIT 50
