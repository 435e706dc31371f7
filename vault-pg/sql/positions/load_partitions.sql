-- The recorded positions of a consumer for some partitions (those just assigned to it).
SELECT p.topic, p.kafka_partition, p.next_offset
FROM vault.consumer_positions p
JOIN unnest($2::text[], $3::integer[]) AS t (topic, kafka_partition) USING (topic, kafka_partition)
WHERE p.consumer = $1
