
-- The periods of each link in {schema}.{table}, by its driving key {driving}: one row per run
-- of the same link in force, from valid_from until valid_to (when another link of the same
-- driving key, or the end of this one, was observed; NULL while in force). Observations that
-- repeat the link in force belong to its period.
CREATE OR REPLACE VIEW {schema}.{table}_periods AS
SELECT runs.{driving}, runs.{key}, runs.valid_from, runs.valid_to, runs.load_dt, runs.load_src
FROM (
    SELECT o.*, o.{effective} AS valid_from,
           lead(o.{effective}) OVER (PARTITION BY o.{driving} ORDER BY {ascending}) AS valid_to
    FROM (
        SELECT s.*,
               lag(s.{key}) OVER w AS previous_key,
               lag(s.is_active) OVER w AS previous_active
        FROM {schema}.{table} AS s
        WINDOW w AS (PARTITION BY s.{driving} ORDER BY {s_ascending})
    ) AS o
    WHERE o.previous_key IS DISTINCT FROM o.{key}
       OR o.previous_active IS DISTINCT FROM o.is_active
) AS runs
WHERE runs.is_active;
