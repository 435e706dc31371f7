-- Order ids are i64 (docs/contract.md §2). Warehouses of the original services that vault
-- migrated before this migration existed still have integer order ids: widen them (a rewrite of
-- the table under an ACCESS EXCLUSIVE lock, about 2.2 s per million rows). A no-op elsewhere.
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
