
-- The periods of each {parent}'s set in {schema}.{table}: the members of each run of an
-- unchanged set by {effective}, from valid_from until valid_to (the next different set's start;
-- NULL while in force). A set delivered again unchanged is part of its period.
CREATE OR REPLACE VIEW {schema}.{table}_periods AS
SELECT s.*, runs.valid_from, runs.valid_to
FROM (
    SELECT sets.{parent}, sets.{effective} AS valid_from,
           lead(sets.{effective}) OVER (PARTITION BY sets.{parent} ORDER BY sets.{effective}) AS valid_to
    FROM (
        SELECT m.{parent}, m.{effective}, m.members,
               lag(m.members) OVER (PARTITION BY m.{parent} ORDER BY m.{effective}) AS previous
        FROM (
            SELECT {parent}, {effective}, string_agg({key}::text, ',' ORDER BY {key}) AS members
            FROM {schema}.{table}
            GROUP BY {parent}, {effective}
        ) AS m
    ) AS sets
    WHERE sets.previous IS DISTINCT FROM sets.members
) AS runs
JOIN {schema}.{table} AS s
  ON s.{parent} = runs.{parent} AND s.{effective} = runs.valid_from{and_real};
