
-- {schema}.{table} keeps periods by {effective}: a table made by an earlier release (one row
-- per key) gets the column, and the primary key becomes ({key}, {effective}). Its rows have no
-- source time: they take -infinity, keep their order among themselves by load_dt, and any
-- value the source gives from now on supersedes them (their load_dt is later than the source
-- time of what follows them, so as effective time it would keep them current over it).
ALTER TABLE {schema}.{table} ADD COLUMN IF NOT EXISTS {effective} timestamp;
UPDATE {schema}.{table} SET {effective} = '-infinity' WHERE {effective} IS NULL;
ALTER TABLE {schema}.{table} ALTER COLUMN {effective} SET NOT NULL;
DO $$
DECLARE
    pk name;
    width int;
BEGIN
    SELECT conname, array_length(conkey, 1) INTO pk, width
    FROM pg_constraint
    WHERE conrelid = '{schema}.{table}'::regclass AND contype = 'p';
    IF pk IS NULL OR width = 1 THEN
        IF pk IS NOT NULL THEN
            EXECUTE format('ALTER TABLE {schema}.{table} DROP CONSTRAINT %I', pk);
        END IF;
        ALTER TABLE {schema}.{table} ADD PRIMARY KEY ({key}, {effective});
    END IF;
END
$$;
DROP INDEX IF EXISTS {schema}.{table}_{parent}_idx;
