-- Counters that differ from their recomputation from the Data Vault (an empty result = exact).
-- Rows at zero and missing rows are the same thing.
SELECT 'user_product_counters' AS datamart, user_id::text AS first_id, product_id::text AS second_id,
       coalesce(c.order_cnt, 0) AS stored, coalesce(r.order_cnt, 0) AS recomputed
FROM cdm.user_product_counters c
FULL JOIN cdm.v_user_product_counters_recomputed r USING (user_id, product_id)
WHERE coalesce(c.order_cnt, 0) <> coalesce(r.order_cnt, 0)
UNION ALL
SELECT 'user_category_counters', user_id::text, category_id::text,
       coalesce(c.order_cnt, 0), coalesce(r.order_cnt, 0)
FROM cdm.user_category_counters c
FULL JOIN cdm.v_user_category_counters_recomputed r USING (user_id, category_id)
WHERE coalesce(c.order_cnt, 0) <> coalesce(r.order_cnt, 0)
UNION ALL
SELECT 'restaurant_category_counters', restaurant_id::text, category_id::text,
       coalesce(c.order_cnt, 0), coalesce(r.order_cnt, 0)
FROM cdm.restaurant_category_counters c
FULL JOIN cdm.v_restaurant_category_counters_recomputed r USING (restaurant_id, category_id)
WHERE coalesce(c.order_cnt, 0) <> coalesce(r.order_cnt, 0)
ORDER BY 1, 2, 3
