
-- bridge table {schema}.{table} from {hub} along {path}: for each snapshot time (as_of), every
-- path of links in force then, with the keys of its links and hubs. Derived: rebuilt for a
-- time by {schema}.{table}_refresh(as_of).
CREATE TABLE IF NOT EXISTS {schema}.{table} (
    {hub_key} uuid NOT NULL REFERENCES {schema}.{hub} ({hub_key}),
    as_of timestamp NOT NULL,
{columns}
    PRIMARY KEY (as_of, {hub_key}, {link_keys})
);
