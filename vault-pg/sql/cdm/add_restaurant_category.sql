-- Positive counter deltas: creates the pair or adds to it, taking the newest names.
INSERT INTO cdm.restaurant_category_counters AS c
    (restaurant_id, category_id, restaurant_name, category_name, order_cnt)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::integer[])
ON CONFLICT (restaurant_id, category_id) DO UPDATE
SET order_cnt = c.order_cnt + EXCLUDED.order_cnt,
    restaurant_name = EXCLUDED.restaurant_name, category_name = EXCLUDED.category_name
