-- The duty list (权责清单): business matters (权责事项) of a department, and which resources and
-- items each matter produces (R6).
CREATE TABLE matters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    kind TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE TABLE matter_resources (
    matter_id BIGINT NOT NULL REFERENCES matters(id),
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    items TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (matter_id, resource_id)
);
CREATE INDEX matter_resources_resource ON matter_resources(resource_id);
