-- Inserts a batch of {schema}.{table} rows (one array per column, rows in key order); a row
-- whose key exists only moves its version forward: the newest source version at which this
-- value was seen (a stale version never moves it back).
INSERT INTO {schema}.{table} AS existing ({columns}, load_dt, load_src)
SELECT {values}, (now() AT TIME ZONE 'utc'), {load_src}
FROM unnest({arrays}) AS t ({columns})
ON CONFLICT ({key}) DO UPDATE SET {version} = EXCLUDED.{version}
WHERE existing.{version} IS NULL OR existing.{version} < EXCLUDED.{version}
