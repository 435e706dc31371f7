-- Inserts a batch of dds.s_product_names rows (one array per column); existing keys are left as they are.
INSERT INTO dds.s_product_names AS existing (hk_product_names_pk, h_product_pk, name, load_dt, load_src)
SELECT t.hk_product_names_pk, t.h_product_pk, t.name, (now() AT TIME ZONE 'utc'), $4
FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS t (hk_product_names_pk, h_product_pk, name)
ON CONFLICT DO NOTHING
