-- Inserts a batch of dds.l_product_restaurant rows (one array per column); existing keys are left as they are.
INSERT INTO dds.l_product_restaurant AS existing (hk_product_restaurant_pk, h_restaurant_pk, h_product_pk, load_dt, load_src)
SELECT t.hk_product_restaurant_pk, t.h_restaurant_pk, t.h_product_pk, (now() AT TIME ZONE 'utc'), $4
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS t (hk_product_restaurant_pk, h_restaurant_pk, h_product_pk)
ON CONFLICT DO NOTHING
