-- Rows in one table of a schema.
SELECT count(*) FROM {schema}.{table}
