SELECT version, name, checksum FROM vault.schema_migrations ORDER BY version
