-- Drops a test's database, closing any connection still open to it.
DROP DATABASE IF EXISTS {database} WITH (FORCE)
