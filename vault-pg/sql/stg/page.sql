-- One page of raw orders in object_id order, after a given object_id (keyset pagination).
-- Casts keep the types fixed on warehouses of the original services (int object_id).
SELECT object_id::bigint, object_type, sent_dttm, payload::text
FROM stg.order_events
WHERE object_id > $1::bigint
ORDER BY object_id
LIMIT $2::bigint
