-- Dead letters decided by a committed batch and not yet acknowledged by the broker
-- (docs/operations.md#dead-letters-become-final-with-their-batch). A batch writes its dead
-- letters here in its own transaction; they are produced only after it commits, under a lock
-- on their rows, and deleted once the broker has acknowledged them. A row left behind (a crash,
-- the broker down) is delivered by the next owner of its partition, which first reads the
-- dead-letter topic from `dlq_from` on and skips what is there already: a dead letter is
-- produced once, and only for a batch that committed.
CREATE TABLE IF NOT EXISTS vault.dead_letter_outbox (
    consumer        text      NOT NULL,
    topic           text      NOT NULL,
    kafka_partition integer   NOT NULL,
    kafka_offset    bigint    NOT NULL,
    dlq_topic       text      NOT NULL,
    -- The dead-letter topic's end offsets, per partition, from before the batch that decided
    -- this dead letter began to produce: where a search for it on the topic starts.
    dlq_from        bigint[]  NOT NULL,
    record_key      bytea,
    payload         bytea     NOT NULL,
    header_names    text[]    NOT NULL,
    header_values   bytea[]   NOT NULL,
    reason          text      NOT NULL,
    decided_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, kafka_partition, kafka_offset)
);
