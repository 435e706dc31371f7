-- Positive counter deltas: creates the pair or adds to it, taking the newest names.
INSERT INTO cdm.user_category_counters AS c (user_id, category_id, category_name, order_cnt)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::integer[])
ON CONFLICT (user_id, category_id) DO UPDATE
SET order_cnt = c.order_cnt + EXCLUDED.order_cnt, category_name = EXCLUDED.category_name
