-- Serialises concurrent appliers on the same orders (a rebalance can briefly give one partition
-- to two replicas). Keys arrive sorted, so locks are taken in one global order: no deadlocks.
SELECT pg_advisory_xact_lock(1447121, k) FROM unnest($1::integer[]) AS k
