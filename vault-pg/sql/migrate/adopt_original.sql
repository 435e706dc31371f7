-- Runs once, before migration 0001, on a warehouse of the original Python services
-- (docs/contract.md §8): brings their tables to the shape the migrations build on. Every
-- statement is a no-op for a table that is missing or already has the shape.
--
-- Cost on a large warehouse: widening an id column from integer to bigint rewrites its table
-- and indexes under an ACCESS EXCLUSIVE lock (dds.h_order: about 2.2 s per million rows,
-- measured on a 2-core machine; stg.order_events likewise). Stop the original services first.

-- Order ids are i64 (docs/contract.md §2): the original columns are integer.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = 'dds' AND table_name = 'h_order'
                 AND column_name = 'order_id' AND data_type = 'integer') THEN
        ALTER TABLE dds.h_order ALTER COLUMN order_id TYPE bigint;
    END IF;
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = 'stg' AND table_name = 'order_events'
                 AND column_name = 'object_id' AND data_type = 'integer') THEN
        ALTER TABLE stg.order_events ALTER COLUMN object_id TYPE bigint;
    END IF;
END
$$;

-- The columns vault adds (migration 0002's views read s_order_status.update_ts).
ALTER TABLE IF EXISTS stg.order_events ADD COLUMN IF NOT EXISTS update_ts timestamp;
ALTER TABLE IF EXISTS stg.order_events
    ADD COLUMN IF NOT EXISTS load_dt timestamp DEFAULT (now() AT TIME ZONE 'utc');
ALTER TABLE IF EXISTS dds.s_order_status ADD COLUMN IF NOT EXISTS update_ts timestamp;

-- The raw rows' version, from their payload, so that a stale replay never overwrites them.
DO $$
BEGIN
    IF to_regclass('stg.order_events') IS NOT NULL THEN
        UPDATE stg.order_events
        SET update_ts = (payload ->> 'update_ts')::timestamp
        WHERE update_ts IS NULL
          AND payload ->> 'update_ts' ~ '^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?$';
    END IF;
END
$$;
