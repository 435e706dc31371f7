
-- {kind} {schema}.{table}: insert-only, {identity}.
CREATE TABLE IF NOT EXISTS {schema}.{table} (
{columns}
    load_dt timestamp NOT NULL,
    load_src varchar NOT NULL,
    PRIMARY KEY ({primary_key})
);
