-- Inserts a batch of dds.l_product_category rows (one array per column); existing keys are left as they are.
INSERT INTO dds.l_product_category AS existing (hk_product_category_pk, h_category_pk, h_product_pk, load_dt, load_src)
SELECT t.hk_product_category_pk, t.h_category_pk, t.h_product_pk, (now() AT TIME ZONE 'utc'), $4
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS t (hk_product_category_pk, h_category_pk, h_product_pk)
ON CONFLICT DO NOTHING
