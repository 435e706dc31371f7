-- One page of raw orders in object_id order, after a given object_id (keyset pagination).
SELECT object_id, object_type, sent_dttm, payload::text
FROM stg.order_events
WHERE object_id > $1
ORDER BY object_id
LIMIT $2
