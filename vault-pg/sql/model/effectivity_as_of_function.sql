
-- The link in force for each {driving} in {schema}.{table} at a time: the newest observation
-- at or before it, when it is active ($1: a column may share the parameter's name).
-- SELECT * FROM {schema}.{table}_at('2024-05-01 12:00');
CREATE OR REPLACE FUNCTION {schema}.{table}_at(at timestamp)
RETURNS SETOF {schema}.{table}
LANGUAGE sql STABLE
AS $$
SELECT newest.*
FROM (
    SELECT DISTINCT ON (s.{driving}) s.*
    FROM {schema}.{table} AS s
    WHERE s.{effective} <= $1
    ORDER BY s.{driving}, {order}
) AS newest
WHERE newest.is_active
$$;
