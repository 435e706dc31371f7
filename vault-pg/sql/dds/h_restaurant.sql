-- Inserts a batch of dds.h_restaurant rows (one array per column); existing keys are left as they are.
INSERT INTO dds.h_restaurant AS existing (h_restaurant_pk, restaurant_id, load_dt, load_src)
SELECT t.h_restaurant_pk, t.restaurant_id, (now() AT TIME ZONE 'utc'), $3
FROM unnest($1::uuid[], $2::text[]) AS t (h_restaurant_pk, restaurant_id)
ON CONFLICT DO NOTHING
