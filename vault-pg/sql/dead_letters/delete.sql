-- Dead letters the broker has acknowledged (or that were found on the topic already).
DELETE FROM vault.dead_letter_outbox o
USING unnest($2::text[], $3::integer[], $4::bigint[]) AS d (topic, kafka_partition, kafka_offset)
WHERE o.consumer = $1
  AND o.topic = d.topic AND o.kafka_partition = d.kafka_partition AND o.kafka_offset = d.kafka_offset
