-- Whether the schema of the toolkit's TPC-H load exists.
SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'tpch')
