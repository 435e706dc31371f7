-- The schemas the TPC-H example makes (the toolkit's, the set-based load's, the raw rows').
DROP SCHEMA IF EXISTS tpch CASCADE;
DROP SCHEMA IF EXISTS tpch_sql CASCADE;
DROP SCHEMA IF EXISTS tpch_stage CASCADE;
