SELECT DISTINCT product FROM loans ORDER BY product
