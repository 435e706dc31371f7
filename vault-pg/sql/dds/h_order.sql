-- Inserts a batch of dds.h_order rows (one array per column); existing keys are left as they are.
INSERT INTO dds.h_order AS existing (h_order_pk, order_id, order_dt, load_dt, load_src)
SELECT t.h_order_pk, t.order_id, t.order_dt, (now() AT TIME ZONE 'utc'), $4
FROM unnest($1::uuid[], $2::bigint[], $3::timestamp[]) AS t (h_order_pk, order_id, order_dt)
ON CONFLICT DO NOTHING
