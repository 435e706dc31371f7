-- The effectivity satellites' rows (migration 0009) as (table, row as JSON), in a stable order.
SELECT 'es_product_category' AS tbl, to_jsonb(t)::text AS row FROM dds.es_product_category t
UNION ALL
SELECT 'es_product_restaurant' AS tbl, to_jsonb(t)::text AS row FROM dds.es_product_restaurant t
ORDER BY 1, 2
