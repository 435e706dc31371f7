
-- The set in force for each {parent} in {schema}.{table}: every member at the parent's newest
-- {effective}, whatever the arrival order.
CREATE OR REPLACE VIEW {schema}.{table}_current AS
SELECT s.*
FROM {schema}.{table} AS s
WHERE s.{effective} = (
    SELECT max(n.{effective}) FROM {schema}.{table} AS n WHERE n.{parent} = s.{parent}
){and_real};
