-- Positive counter deltas: creates the pair or adds to it, taking the newest names.
INSERT INTO cdm.user_product_counters AS c (user_id, product_id, product_name, order_cnt)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::integer[])
ON CONFLICT (user_id, product_id) DO UPDATE
SET order_cnt = c.order_cnt + EXCLUDED.order_cnt, product_name = EXCLUDED.product_name
