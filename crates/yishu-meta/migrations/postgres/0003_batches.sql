-- Ingest batches: one row per run into a resource's ods table, with its counts and checksum.
CREATE TABLE batches (
    id TEXT PRIMARY KEY,
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    source TEXT NOT NULL,
    checksum TEXT NOT NULL,
    status TEXT NOT NULL,
    rows_read BIGINT NOT NULL DEFAULT 0,
    rows_stored BIGINT NOT NULL DEFAULT 0,
    rows_quarantined BIGINT NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    lake_version BIGINT,
    started_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX batches_resource ON batches(resource_id, checksum);
