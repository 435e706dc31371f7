
-- point-in-time table {schema}.{table} over {hub}: for each snapshot time (as_of), the row of
-- each satellite in force then ({satellites}): its key and effective time, or the ghost
-- record's (the nil uuid and -infinity) when the hub had none yet. Derived: rebuilt for a time
-- by {schema}.{table}_refresh(as_of).
CREATE TABLE IF NOT EXISTS {schema}.{table} (
    {hub_key} uuid NOT NULL REFERENCES {schema}.{hub} ({hub_key}),
    as_of timestamp NOT NULL,
{columns}
    PRIMARY KEY (as_of, {hub_key})
);
