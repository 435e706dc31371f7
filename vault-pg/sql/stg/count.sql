SELECT count(*) FROM stg.order_events
