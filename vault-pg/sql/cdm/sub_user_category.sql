-- Negative (or zero, renaming) deltas on existing pairs (see sub_user_product.sql).
UPDATE cdm.user_category_counters AS c
SET order_cnt = c.order_cnt + t.delta, category_name = coalesce(t.name, c.category_name)
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::integer[]) AS t (user_id, category_id, name, delta)
WHERE c.user_id = t.user_id AND c.category_id = t.category_id
