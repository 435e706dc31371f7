
-- The current value of each {parent} in {schema}.{table}: {rule}.
CREATE OR REPLACE VIEW {schema}.{table}_current AS
SELECT DISTINCT ON (s.{parent}) s.*
FROM {schema}.{table} AS s{where_real}
ORDER BY s.{parent}, {order};
