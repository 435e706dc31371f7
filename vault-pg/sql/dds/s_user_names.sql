-- Inserts a batch of dds.s_user_names rows (one array per column); existing keys are left as they are.
INSERT INTO dds.s_user_names AS existing (hk_user_names_pk, h_user_pk, username, userlogin, load_dt, load_src)
SELECT t.hk_user_names_pk, t.h_user_pk, t.username, t.userlogin, (now() AT TIME ZONE 'utc'), $5
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) AS t (hk_user_names_pk, h_user_pk, username, userlogin)
ON CONFLICT DO NOTHING
