-- Inserts a batch of dds.l_order_user rows (one array per column); existing keys are left as they are.
INSERT INTO dds.l_order_user AS existing (hk_order_user_pk, h_order_pk, h_user_pk, load_dt, load_src)
SELECT t.hk_order_user_pk, t.h_order_pk, t.h_user_pk, (now() AT TIME ZONE 'utc'), $4
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS t (hk_order_user_pk, h_order_pk, h_user_pk)
ON CONFLICT DO NOTHING
