-- Takes the waiting dead letters of `consumer` at the given source positions (topic, partition,
-- offset; a null offset: every one of that partition), locked until the transaction ends:
-- whoever delivers them holds the lock from before the produce until their rows are deleted,
-- so no two sessions produce the same dead letter. Rows another session delivered and deleted
-- meanwhile are not returned.
SELECT o.topic, o.kafka_partition, o.kafka_offset, o.dlq_topic, o.dlq_from, o.record_key,
       o.payload, o.header_names, o.header_values, o.reason
FROM vault.dead_letter_outbox o
JOIN unnest($2::text[], $3::integer[], $4::bigint[]) AS p (topic, kafka_partition, kafka_offset)
  ON o.topic = p.topic AND o.kafka_partition = p.kafka_partition
 AND (p.kafka_offset IS NULL OR o.kafka_offset = p.kafka_offset)
WHERE o.consumer = $1
ORDER BY o.topic, o.kafka_partition, o.kafka_offset
FOR UPDATE OF o
