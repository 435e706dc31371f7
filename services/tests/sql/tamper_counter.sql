-- Breaks one counter on purpose (for `vault check`).
UPDATE cdm.user_category_counters SET order_cnt = order_cnt + 1
WHERE (user_id, category_id) IN (SELECT user_id, category_id FROM cdm.user_category_counters LIMIT 1)
