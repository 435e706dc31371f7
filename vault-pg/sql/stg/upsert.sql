-- Upserts a batch of raw orders (one array per column, one element per object_id).
-- A stale version (older update_ts) never overwrites a newer one; rows loaded by the original
-- services (no update_ts) are replaced by any version.
INSERT INTO stg.order_events AS e (object_id, object_type, sent_dttm, payload, update_ts)
SELECT t.object_id, t.object_type, t.sent_dttm, t.payload::json, t.update_ts
FROM unnest($1::bigint[], $2::text[], $3::timestamp[], $4::text[], $5::timestamp[])
     AS t (object_id, object_type, sent_dttm, payload, update_ts)
ON CONFLICT (object_id) DO UPDATE
SET object_type = EXCLUDED.object_type,
    sent_dttm   = EXCLUDED.sent_dttm,
    payload     = EXCLUDED.payload,
    update_ts   = EXCLUDED.update_ts,
    load_dt     = (now() AT TIME ZONE 'utc')
WHERE e.update_ts IS NULL OR e.update_ts <= EXCLUDED.update_ts
