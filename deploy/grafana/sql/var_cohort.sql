SELECT DISTINCT toString(toStartOfMonth(disbursed_on)) AS cohort FROM loans ORDER BY cohort
