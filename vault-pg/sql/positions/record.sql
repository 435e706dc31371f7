-- Records the next offsets a consumer will read, in the transaction of the data they produced.
-- Positions only move forward (two replicas racing through a rebalance cannot move one back).
INSERT INTO vault.consumer_positions AS p (consumer, topic, kafka_partition, next_offset, updated_at)
SELECT $1, t.topic, t.kafka_partition, t.next_offset, now()
FROM unnest($2::text[], $3::integer[], $4::bigint[]) AS t (topic, kafka_partition, next_offset)
ON CONFLICT (consumer, topic, kafka_partition) DO UPDATE
SET next_offset = greatest(p.next_offset, EXCLUDED.next_offset), updated_at = now()
