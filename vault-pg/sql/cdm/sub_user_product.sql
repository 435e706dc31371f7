-- Negative (or zero, renaming) deltas on existing pairs. Kept apart from the upsert because a
-- proposed insert row with a negative count would fail the order_cnt >= 0 check.
UPDATE cdm.user_product_counters AS c
SET order_cnt = c.order_cnt + t.delta, product_name = coalesce(t.name, c.product_name)
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::integer[]) AS t (user_id, product_id, name, delta)
WHERE c.user_id = t.user_id AND c.product_id = t.product_id
