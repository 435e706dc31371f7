
-- The periods of each {parent} in {schema}.{table}: one row per run of an unchanged value by
-- {effective}, from valid_from until valid_to (the next period's start; NULL while in force).
-- A row that repeats the value in force (seen again later) is part of that value's period.
CREATE OR REPLACE VIEW {schema}.{table}_periods AS
SELECT o.{parent}, o.{key}, {attributes}, o.{effective} AS valid_from,
       lead(o.{effective}) OVER (PARTITION BY o.{parent} ORDER BY {ascending}) AS valid_to,
       o.load_dt, o.load_src
FROM (
    SELECT s.*, lag(s.{key}) OVER (PARTITION BY s.{parent} ORDER BY {s_ascending}) AS previous_key
    FROM {schema}.{table} AS s{inner_where_real}
) AS o
WHERE o.previous_key IS DISTINCT FROM o.{key};
