SELECT topic, kafka_partition, next_offset
FROM vault.consumer_positions
WHERE consumer = $1
ORDER BY topic, kafka_partition
