-- Makes a test's database read-only for new sessions ('on') or writable again ('off'), as a
-- managed PostgreSQL does during a switchover.
ALTER DATABASE {database} SET default_transaction_read_only = {setting}
