-- Message ids taken from a queue feed (R8), per resource: a redelivered message whose id belongs to
-- a succeeded (or still running) batch is dropped, which turns at-least-once delivery into
-- exactly-once storage. Ids of a failed batch are taken again by the next batch.
CREATE TABLE feed_messages (
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    message_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    PRIMARY KEY (resource_id, message_id)
);
CREATE INDEX feed_messages_batch ON feed_messages(batch_id);
