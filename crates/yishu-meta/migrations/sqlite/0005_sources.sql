-- Sources bound to resources (数据源): where a resource's data is pulled from, on what schedule,
-- from which watermark, and how the last run went. A node claims a due source by moving its
-- next_run_at (compare-and-set), so several processes never run the same pull twice.
CREATE TABLE sources (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    kind TEXT NOT NULL,
    config TEXT NOT NULL,
    schedule TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    watermark TEXT,
    next_run_at BIGINT NOT NULL,
    last_run_at BIGINT,
    last_status TEXT NOT NULL DEFAULT '',
    last_message TEXT NOT NULL DEFAULT '',
    failures BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX sources_due ON sources(next_run_at);
CREATE INDEX sources_resource ON sources(resource_id);
