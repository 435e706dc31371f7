-- Inserts a batch of dds.h_category rows (one array per column); existing keys are left as they are.
INSERT INTO dds.h_category AS existing (h_category_pk, category_name, load_dt, load_src)
SELECT t.h_category_pk, t.category_name, (now() AT TIME ZONE 'utc'), $3
FROM unnest($1::uuid[], $2::text[]) AS t (h_category_pk, category_name)
ON CONFLICT DO NOTHING
