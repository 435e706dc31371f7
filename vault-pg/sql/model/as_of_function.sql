
-- The value of each {parent} in {schema}.{table} in force at a time: the newest period that
-- began at or before it ($1: a column may share the parameter's name).
-- SELECT * FROM {schema}.{table}_at('2024-05-01 12:00');
CREATE OR REPLACE FUNCTION {schema}.{table}_at(at timestamp)
RETURNS SETOF {schema}.{table}
LANGUAGE sql STABLE
AS $$
SELECT DISTINCT ON (s.{parent}) s.*
FROM {schema}.{table} AS s
WHERE s.{effective} <= $1{and_real}
ORDER BY s.{parent}, {order}
$$;
