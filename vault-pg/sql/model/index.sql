CREATE INDEX IF NOT EXISTS {table}_{column}_idx ON {schema}.{table} ({column});
