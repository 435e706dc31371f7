-- vault refresh --keep-days: the snapshots of {schema}.{table} older than $1 go.
DELETE FROM {schema}.{table} WHERE as_of < $1
