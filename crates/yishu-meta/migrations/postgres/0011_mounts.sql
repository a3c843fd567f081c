-- Logical mounting (逻辑汇聚, R4): a resource that stands on a department's own table or API instead
-- of a copy in ods. `config` is the mount as JSON (kind, url, table).
CREATE TABLE mounts (
    resource_id BIGINT PRIMARY KEY REFERENCES resources(id),
    config TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
