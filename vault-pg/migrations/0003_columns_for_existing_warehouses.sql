-- For warehouses created by the original services: the columns vault adds to their tables.
-- On a warehouse created by migration 0001 these are no-ops.
ALTER TABLE stg.order_events ADD COLUMN IF NOT EXISTS update_ts timestamp;
ALTER TABLE stg.order_events ADD COLUMN IF NOT EXISTS load_dt timestamp DEFAULT (now() AT TIME ZONE 'utc');
ALTER TABLE dds.s_order_status ADD COLUMN IF NOT EXISTS update_ts timestamp;
