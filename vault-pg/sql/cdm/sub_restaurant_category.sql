-- Negative (or zero, renaming) deltas on existing pairs (see sub_user_product.sql).
UPDATE cdm.restaurant_category_counters AS c
SET order_cnt = c.order_cnt + t.delta,
    restaurant_name = coalesce(t.restaurant_name, c.restaurant_name),
    category_name = coalesce(t.category_name, c.category_name)
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::integer[])
     AS t (restaurant_id, category_id, restaurant_name, category_name, delta)
WHERE c.restaurant_id = t.restaurant_id AND c.category_id = t.category_id
