
-- The link in force for each {driving} in {schema}.{table}: the newest observation by
-- {effective} whatever the arrival order (ties: the later load, then the greater key), when it
-- is active. A driving key whose newest observation ended its link has none.
CREATE OR REPLACE VIEW {schema}.{table}_current AS
SELECT newest.*
FROM (
    SELECT DISTINCT ON (s.{driving}) s.*
    FROM {schema}.{table} AS s
    ORDER BY s.{driving}, {order}
) AS newest
WHERE newest.is_active;
