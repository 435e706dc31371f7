-- Inserts a batch of dds.s_restaurant_names rows (one array per column); existing keys are left as they are.
INSERT INTO dds.s_restaurant_names AS existing (hk_restaurant_names_pk, h_restaurant_pk, name, load_dt, load_src)
SELECT t.hk_restaurant_names_pk, t.h_restaurant_pk, t.name, (now() AT TIME ZONE 'utc'), $4
FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS t (hk_restaurant_names_pk, h_restaurant_pk, name)
ON CONFLICT DO NOTHING
