
-- The set of each {parent} in {schema}.{table} in force at a time: every member at the
-- parent's newest {effective} at or before it ($1: a column may share the parameter's name).
-- SELECT * FROM {schema}.{table}_at('2024-05-01 12:00');
CREATE OR REPLACE FUNCTION {schema}.{table}_at(at timestamp)
RETURNS SETOF {schema}.{table}
LANGUAGE sql STABLE
AS $$
SELECT s.*
FROM {schema}.{table} AS s
WHERE s.{effective} = (
    SELECT max(n.{effective}) FROM {schema}.{table} AS n
    WHERE n.{parent} = s.{parent} AND n.{effective} <= $1
){and_real}
$$;
