-- Datamart rows that differ from their recomputation from the Data Vault (an empty result =
-- exact). Rows at zero and missing rows are the same thing.
SELECT 'user_product_counters' AS datamart, user_id::text AS first_id, product_id::text AS second_id,
       coalesce(c.order_cnt, 0)::text AS stored, coalesce(r.order_cnt, 0)::text AS recomputed
FROM cdm.user_product_counters c
FULL JOIN cdm.v_user_product_counters_recomputed r USING (user_id, product_id)
WHERE coalesce(c.order_cnt, 0) <> coalesce(r.order_cnt, 0)
UNION ALL
SELECT 'user_category_counters', user_id::text, category_id::text,
       coalesce(c.order_cnt, 0)::text, coalesce(r.order_cnt, 0)::text
FROM cdm.user_category_counters c
FULL JOIN cdm.v_user_category_counters_recomputed r USING (user_id, category_id)
WHERE coalesce(c.order_cnt, 0) <> coalesce(r.order_cnt, 0)
UNION ALL
SELECT 'restaurant_category_counters', restaurant_id::text, category_id::text,
       coalesce(c.order_cnt, 0)::text, coalesce(r.order_cnt, 0)::text
FROM cdm.restaurant_category_counters c
FULL JOIN cdm.v_restaurant_category_counters_recomputed r USING (restaurant_id, category_id)
WHERE coalesce(c.order_cnt, 0) <> coalesce(r.order_cnt, 0)
UNION ALL
-- The daily datamart: a cell differs when any of its four measures does.
SELECT 'restaurant_category_days', restaurant_id::text, category_id::text || ' ' || order_day::text,
       format('orders %s dishes %s cost %s payment %s', coalesce(c.order_cnt, 0),
              coalesce(c.item_cnt, 0), coalesce(c.cost, 0), coalesce(c.payment, 0)),
       format('orders %s dishes %s cost %s payment %s', coalesce(r.order_cnt, 0),
              coalesce(r.item_cnt, 0), coalesce(r.cost, 0), coalesce(r.payment, 0))
FROM cdm.restaurant_category_days c
FULL JOIN cdm.v_restaurant_category_days_recomputed r USING (restaurant_id, category_id, order_day)
WHERE (coalesce(c.order_cnt, 0), coalesce(c.item_cnt, 0), coalesce(c.cost, 0), coalesce(c.payment, 0))
   <> (coalesce(r.order_cnt, 0), coalesce(r.item_cnt, 0), coalesce(r.cost, 0), coalesce(r.payment, 0))
ORDER BY 1, 2, 3
