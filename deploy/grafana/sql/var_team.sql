SELECT DISTINCT owner_team FROM warnings ORDER BY owner_team
