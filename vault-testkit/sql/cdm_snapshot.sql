-- Every datamart row and ledger entry as (table, row as JSON), in a stable order.
SELECT 'user_product_counters' AS tbl, to_jsonb(t)::text AS row FROM cdm.user_product_counters t
UNION ALL
SELECT 'user_category_counters' AS tbl, to_jsonb(t)::text AS row FROM cdm.user_category_counters t
UNION ALL
SELECT 'restaurant_category_counters' AS tbl, to_jsonb(t)::text AS row FROM cdm.restaurant_category_counters t
UNION ALL
SELECT 'restaurant_category_days' AS tbl, to_jsonb(t)::text AS row FROM cdm.restaurant_category_days t
UNION ALL
SELECT 'order_ledger' AS tbl, to_jsonb(t)::text AS row FROM cdm.order_ledger t
ORDER BY 1, 2
