-- Records the next offsets a consumer will read, in the transaction of the data they produced,
-- and returns the positions recorded before (to tell work applied again from new work).
-- Positions only move forward (two replicas racing through a rebalance cannot move one back).
WITH batch AS (
    SELECT * FROM unnest($2::text[], $3::integer[], $4::bigint[]) AS t (topic, kafka_partition, next_offset)
), before AS (
    SELECT p.topic, p.kafka_partition, p.next_offset
    FROM vault.consumer_positions p
    JOIN batch b USING (topic, kafka_partition)
    WHERE p.consumer = $1
), recorded AS (
    INSERT INTO vault.consumer_positions AS p (consumer, topic, kafka_partition, next_offset, updated_at)
    SELECT $1, b.topic, b.kafka_partition, b.next_offset, now()
    FROM batch b
    ON CONFLICT (consumer, topic, kafka_partition) DO UPDATE
    SET next_offset = greatest(p.next_offset, EXCLUDED.next_offset), updated_at = now()
)
SELECT topic, kafka_partition, next_offset FROM before
