-- vault refresh: rebuild the snapshot of {schema}.{table} at $1 (rows written).
SELECT {schema}.{table}_refresh($1)
