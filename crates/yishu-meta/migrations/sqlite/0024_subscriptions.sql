-- Subscriptions (订阅): a grant's new rows delivered on a schedule into the consumer's own
-- database table or drop directory. The cursor lives in the destination (moved in the same
-- transaction as the rows); this table keeps the schedule and what the last delivery did.
CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL UNIQUE,
    grant_id BIGINT NOT NULL REFERENCES grants(id),
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    -- JSON: {"kind": "database", "url", "table"} or {"kind": "directory", "path", "format"}
    destination TEXT NOT NULL,
    every_minutes BIGINT NOT NULL,
    -- active or paused
    status TEXT NOT NULL,
    status_reason TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    -- a node delivering it holds it until then
    claimed_until BIGINT NOT NULL,
    last_at BIGINT,
    last_ok_at BIGINT,
    last_error TEXT NOT NULL,
    last_rows BIGINT NOT NULL,
    total_rows BIGINT NOT NULL,
    deliveries BIGINT NOT NULL,
    delivered_version BIGINT,
    source_version BIGINT,
    -- when the first change the destination lacks was made (ms); NULL when it is up to date
    behind_since BIGINT,
    UNIQUE (org_id, name)
);
CREATE INDEX subscriptions_due ON subscriptions(next_at);
