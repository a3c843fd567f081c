-- Catalog (政务信息资源目录): resources with GB/T 21063.3 core metadata, their information items,
-- every published version, and the code sequences (never reused).
CREATE TABLE resources (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    class_kind TEXT NOT NULL,
    class_path TEXT NOT NULL,
    name TEXT NOT NULL,
    provider_org_id BIGINT NOT NULL REFERENCES orgs(id),
    summary TEXT NOT NULL,
    format TEXT NOT NULL,
    share_type TEXT NOT NULL,
    share_condition TEXT NOT NULL,
    open_type TEXT NOT NULL,
    open_condition TEXT NOT NULL,
    update_cycle TEXT NOT NULL,
    related_codes TEXT NOT NULL,
    extended TEXT NOT NULL,
    status TEXT NOT NULL,
    review_note TEXT NOT NULL,
    published_at BIGINT,
    created_by BIGINT NOT NULL REFERENCES users(id),
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX resources_provider ON resources(provider_org_id);
CREATE INDEX resources_status ON resources(status);

CREATE TABLE resource_items (
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    item_type TEXT NOT NULL,
    length BIGINT,
    data_element TEXT,
    description TEXT NOT NULL,
    PRIMARY KEY (resource_id, position)
);

CREATE TABLE resource_versions (
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    version BIGINT NOT NULL,
    snapshot TEXT NOT NULL,
    changed_by BIGINT NOT NULL,
    changed_at BIGINT NOT NULL,
    PRIMARY KEY (resource_id, version)
);

CREATE TABLE resource_code_seq (
    prefix TEXT PRIMARY KEY,
    last BIGINT NOT NULL
);
