-- vault refresh: one refresh of {schema}.{table} at a time (a second waits for the first to
-- commit); readers go on reading the snapshots already there.
LOCK TABLE {schema}.{table} IN SHARE ROW EXCLUSIVE MODE
