-- The dead letters a batch decided, in the batch's transaction. One already waiting for the
-- same message is kept as it is (the message was decided by a batch that committed before).
INSERT INTO vault.dead_letter_outbox AS o
    (consumer, topic, kafka_partition, kafka_offset, dlq_topic, dlq_from, record_key, payload,
     header_names, header_values, reason)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (consumer, topic, kafka_partition, kafka_offset) DO NOTHING
