
-- Rebuilds the snapshot of {schema}.{table} at a time: what was there for that time goes,
-- then every path from {hub} along {path} whose links were in force then (a link with an
-- effectivity satellite while active at that time; one without, once loaded) gets one row.
-- Returns the rows written. Schedule it for the times BI reports on.
-- SELECT {schema}.{table}_refresh(date_trunc('day', now() AT TIME ZONE 'utc'));
CREATE OR REPLACE FUNCTION {schema}.{table}_refresh(as_of timestamp)
RETURNS bigint
LANGUAGE sql
AS $$
DELETE FROM {schema}.{table} AS b WHERE b.as_of = $1;
INSERT INTO {schema}.{table} ({hub_key}, as_of, {names})
SELECT h.{hub_key}, $1, {values}
FROM {schema}.{hub} AS h
{joins}{where_real};
SELECT count(*) FROM {schema}.{table} AS b WHERE b.as_of = $1;
$$;
