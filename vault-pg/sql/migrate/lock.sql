-- One migrator at a time across all replicas; released at commit or rollback.
SELECT pg_advisory_xact_lock(1447120, 1)
