-- Inserts a batch of {schema}.{table} rows (one array per column, rows in key order); a row
-- that is there already ({primary_key}) is left as it is. Its record source: {source_rule}.
INSERT INTO {schema}.{table} AS existing ({columns}, load_dt, load_src)
SELECT {values}, (now() AT TIME ZONE 'utc'), {load_src}
FROM unnest({arrays}) AS t ({aliases})
ON CONFLICT DO NOTHING
