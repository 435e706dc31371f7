-- Every recorded position, for `vault positions`.
SELECT consumer, topic, kafka_partition, next_offset, updated_at::text
FROM vault.consumer_positions
WHERE $1::text IS NULL OR consumer = $1
ORDER BY consumer, topic, kafka_partition
