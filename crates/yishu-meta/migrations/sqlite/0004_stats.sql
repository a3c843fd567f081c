-- Usage statistics per resource (R5): views of its page, searches that found it, and later the
-- applications and calls made against it.
CREATE TABLE resource_stats (
    resource_id BIGINT PRIMARY KEY REFERENCES resources(id),
    views BIGINT NOT NULL DEFAULT 0,
    search_hits BIGINT NOT NULL DEFAULT 0,
    applications BIGINT NOT NULL DEFAULT 0,
    calls BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX resources_updated ON resources(updated_at);
