-- Forgets the positions of a consumer group (on one topic, or all), for `vault positions --reset`:
-- the group then starts from its committed offsets again.
DELETE FROM vault.consumer_positions
WHERE consumer = $1 AND ($2::text IS NULL OR topic = $2)
