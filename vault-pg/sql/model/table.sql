
-- {kind} {schema}.{table}: insert-only, keyed by {key}.
CREATE TABLE IF NOT EXISTS {schema}.{table} (
{columns}
    load_dt timestamp NOT NULL,
    load_src varchar NOT NULL
);
