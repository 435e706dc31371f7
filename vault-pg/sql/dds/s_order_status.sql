-- Inserts a batch of dds.s_order_status rows; an existing key only moves its update_ts forward.
INSERT INTO dds.s_order_status AS existing (hk_order_status_pk, h_order_pk, status, update_ts, load_dt, load_src)
SELECT t.hk_order_status_pk, t.h_order_pk, t.status, t.update_ts, (now() AT TIME ZONE 'utc'), $5
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamp[]) AS t (hk_order_status_pk, h_order_pk, status, update_ts)
-- The one column that moves: the newest version timestamp seen in this status.
ON CONFLICT (hk_order_status_pk) DO UPDATE SET update_ts = EXCLUDED.update_ts
WHERE existing.update_ts IS NULL OR existing.update_ts < EXCLUDED.update_ts
