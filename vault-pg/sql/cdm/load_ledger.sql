SELECT order_id, update_ts, status, user_id, restaurant_id, product_ids, category_ids,
       category_items, order_dt, cost::text, payment::text
FROM cdm.order_ledger
WHERE order_id = ANY($1::uuid[])
