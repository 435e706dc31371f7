-- Inserts a batch of dds.h_user rows (one array per column); existing keys are left as they are.
INSERT INTO dds.h_user AS existing (h_user_pk, user_id, load_dt, load_src)
SELECT t.h_user_pk, t.user_id, (now() AT TIME ZONE 'utc'), $3
FROM unnest($1::uuid[], $2::text[]) AS t (h_user_pk, user_id)
ON CONFLICT DO NOTHING
