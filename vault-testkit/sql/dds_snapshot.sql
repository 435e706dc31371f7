-- Every Data Vault row as (table, row as JSON), in a stable order.
SELECT 'h_user' AS tbl, to_jsonb(t)::text AS row FROM dds.h_user t
UNION ALL
SELECT 'h_product' AS tbl, to_jsonb(t)::text AS row FROM dds.h_product t
UNION ALL
SELECT 'h_category' AS tbl, to_jsonb(t)::text AS row FROM dds.h_category t
UNION ALL
SELECT 'h_restaurant' AS tbl, to_jsonb(t)::text AS row FROM dds.h_restaurant t
UNION ALL
SELECT 'h_order' AS tbl, to_jsonb(t)::text AS row FROM dds.h_order t
UNION ALL
SELECT 'l_order_product' AS tbl, to_jsonb(t)::text AS row FROM dds.l_order_product t
UNION ALL
SELECT 'l_product_restaurant' AS tbl, to_jsonb(t)::text AS row FROM dds.l_product_restaurant t
UNION ALL
SELECT 'l_product_category' AS tbl, to_jsonb(t)::text AS row FROM dds.l_product_category t
UNION ALL
SELECT 'l_order_user' AS tbl, to_jsonb(t)::text AS row FROM dds.l_order_user t
UNION ALL
SELECT 's_user_names' AS tbl, to_jsonb(t)::text AS row FROM dds.s_user_names t
UNION ALL
SELECT 's_restaurant_names' AS tbl, to_jsonb(t)::text AS row FROM dds.s_restaurant_names t
UNION ALL
SELECT 's_product_names' AS tbl, to_jsonb(t)::text AS row FROM dds.s_product_names t
UNION ALL
SELECT 's_order_cost' AS tbl, to_jsonb(t)::text AS row FROM dds.s_order_cost t
UNION ALL
SELECT 's_order_status' AS tbl, to_jsonb(t)::text AS row FROM dds.s_order_status t
ORDER BY 1, 2
