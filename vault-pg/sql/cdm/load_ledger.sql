SELECT order_id, update_ts, status, user_id, restaurant_id, product_ids, category_ids
FROM cdm.order_ledger
WHERE order_id = ANY($1::uuid[])
