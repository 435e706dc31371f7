-- Writes the ledger entries of orders whose applied version changed. Id lists travel as
-- comma-separated text because the arrays of different orders differ in length.
INSERT INTO cdm.order_ledger AS l
    (order_id, update_ts, status, user_id, restaurant_id, product_ids, category_ids, applied_at,
     category_items, order_dt, cost, payment)
SELECT t.order_id, t.update_ts, t.status, t.user_id, t.restaurant_id,
       string_to_array(t.product_ids, ',')::uuid[], string_to_array(t.category_ids, ',')::uuid[], now(),
       string_to_array(t.category_items, ',')::integer[], t.order_dt, t.cost::numeric, t.payment::numeric
FROM unnest($1::uuid[], $2::timestamp[], $3::text[], $4::uuid[], $5::uuid[], $6::text[], $7::text[],
            $8::text[], $9::timestamp[], $10::text[], $11::text[])
     AS t (order_id, update_ts, status, user_id, restaurant_id, product_ids, category_ids,
           category_items, order_dt, cost, payment)
ON CONFLICT (order_id) DO UPDATE
SET update_ts = EXCLUDED.update_ts, status = EXCLUDED.status, user_id = EXCLUDED.user_id,
    restaurant_id = EXCLUDED.restaurant_id, product_ids = EXCLUDED.product_ids,
    category_ids = EXCLUDED.category_ids, applied_at = EXCLUDED.applied_at,
    category_items = EXCLUDED.category_items, order_dt = EXCLUDED.order_dt,
    cost = EXCLUDED.cost, payment = EXCLUDED.payment
