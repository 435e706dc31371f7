-- Cuts every session on a test's database but the caller's (pg_terminate_backend: the clients
-- see SQLSTATE 57P01, admin shutdown); returns how many.
SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
FROM pg_stat_activity
WHERE datname = $1 AND pid <> pg_backend_pid()
