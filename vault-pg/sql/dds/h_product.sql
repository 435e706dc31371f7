-- Inserts a batch of dds.h_product rows (one array per column); existing keys are left as they are.
INSERT INTO dds.h_product AS existing (h_product_pk, product_id, load_dt, load_src)
SELECT t.h_product_pk, t.product_id, (now() AT TIME ZONE 'utc'), $3
FROM unnest($1::uuid[], $2::text[]) AS t (h_product_pk, product_id)
ON CONFLICT DO NOTHING
