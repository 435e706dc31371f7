CREATE INDEX IF NOT EXISTS {name} ON {schema}.{table} ({columns});
