-- The online PD model's ROC AUC per day and events partition in the dashboard's range:
-- each day's last checkpoint, whose figure covers every label learned until then
-- (null while a hub has too few labels).
SELECT toDateTime(toDate(produced_at)) AS time, concat('partition ', toString(partition)) AS hub,
    argMax(roc_auc, produced_at) AS roc_auc
FROM model_metrics FINAL
WHERE model = 'pd' AND $__timeFilter(produced_at)
GROUP BY time, hub
ORDER BY time, hub
