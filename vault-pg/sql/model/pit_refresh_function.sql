
-- Rebuilds the snapshot of {schema}.{table} at a time, in one statement each: what was there
-- for that time goes, then every {hub} with a row in force in any of its satellites gets one
-- row. Returns the rows written. Schedule it (daily, hourly) for the times BI reports on; run
-- it again for a past time when late data arrived.
-- SELECT {schema}.{table}_refresh(date_trunc('day', now() AT TIME ZONE 'utc'));
CREATE OR REPLACE FUNCTION {schema}.{table}_refresh(as_of timestamp)
RETURNS bigint
LANGUAGE sql
AS $$
DELETE FROM {schema}.{table} AS p WHERE p.as_of = $1;
INSERT INTO {schema}.{table} ({hub_key}, as_of, {names})
SELECT h.{hub_key}, $1, {values}
FROM {schema}.{hub} AS h
{laterals}
WHERE {any};
SELECT count(*) FROM {schema}.{table} AS p WHERE p.as_of = $1;
$$;
