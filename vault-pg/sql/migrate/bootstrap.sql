CREATE SCHEMA IF NOT EXISTS vault;
CREATE TABLE IF NOT EXISTS vault.schema_migrations (
    version    integer PRIMARY KEY,
    name       varchar     NOT NULL,
    checksum   varchar     NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
