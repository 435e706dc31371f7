-- The set-based peer (issue 14), step 1: a staging table for the enriched orders, one JSON
-- document per row, as a dbt / AutomateDV user lands them before building the vault. `json`
-- (not `jsonb`) keeps each number's text as sent, which is part of the keys (contract §5.1).
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE SCHEMA IF NOT EXISTS peer;
DROP TABLE IF EXISTS peer.enriched_orders;
CREATE TABLE peer.enriched_orders (doc json NOT NULL);
