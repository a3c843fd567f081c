-- Standards and quality (R11–R16): data elements (数据元, versioned), department code tables with
-- their mapping to national ones, rules with dual-reviewed versions, per-batch profiles and results.
CREATE TABLE data_elements (
    identifier TEXT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    definition TEXT NOT NULL DEFAULT '',
    data_type TEXT NOT NULL,
    length BIGINT,
    format TEXT NOT NULL DEFAULT '',
    domain TEXT NOT NULL DEFAULT '{}',
    unit TEXT NOT NULL DEFAULT '',
    security_level TEXT NOT NULL DEFAULT '',
    source_standard TEXT NOT NULL DEFAULT '',
    created_by BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (identifier, version)
);
CREATE TABLE code_tables (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    org_id BIGINT REFERENCES orgs(id),
    national TEXT NOT NULL DEFAULT '',
    entries TEXT NOT NULL DEFAULT '[]',
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);
CREATE TABLE rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    name TEXT NOT NULL,
    business_rule TEXT NOT NULL DEFAULT '',
    purpose TEXT NOT NULL DEFAULT 'check',
    retired BIGINT NOT NULL DEFAULT 0,
    created_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX rules_resource ON rules(resource_id);
CREATE TABLE rule_versions (
    rule_id BIGINT NOT NULL REFERENCES rules(id),
    version BIGINT NOT NULL,
    definition TEXT NOT NULL,
    dimension TEXT NOT NULL,
    importance TEXT NOT NULL,
    severity TEXT NOT NULL,
    action TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    business_by BIGINT,
    business_at BIGINT,
    technical_by BIGINT,
    technical_at BIGINT,
    note TEXT NOT NULL DEFAULT '',
    created_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (rule_id, version)
);
CREATE TABLE profiles (
    batch_id TEXT PRIMARY KEY,
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    records BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX profiles_resource ON profiles(resource_id, created_at);
CREATE TABLE rule_results (
    batch_id TEXT NOT NULL,
    rule_id BIGINT NOT NULL REFERENCES rules(id),
    rule_version BIGINT NOT NULL,
    resource_id BIGINT NOT NULL,
    checked BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (batch_id, rule_id)
);
CREATE INDEX rule_results_resource ON rule_results(resource_id, created_at);
-- Rule suggestions a person discarded (the definition's JSON), so they are not proposed again.
CREATE TABLE discarded_suggestions (
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    definition TEXT NOT NULL,
    discarded_by BIGINT NOT NULL,
    discarded_at BIGINT NOT NULL,
    PRIMARY KEY (resource_id, definition)
);
-- Work orders (整改工单, R16): one open per resource and rule, sent to the owning department.
CREATE TABLE work_orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    rule_id BIGINT NOT NULL,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    status TEXT NOT NULL,
    title TEXT NOT NULL,
    evidence TEXT NOT NULL DEFAULT '{}',
    failed BIGINT NOT NULL,
    first_batch TEXT NOT NULL,
    last_batch TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    opened_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT
);
CREATE UNIQUE INDEX work_orders_one_open ON work_orders(resource_id, rule_id) WHERE status <> 'closed';
CREATE INDEX work_orders_org ON work_orders(org_id, status);
CREATE TABLE work_order_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id BIGINT NOT NULL REFERENCES work_orders(id),
    at BIGINT NOT NULL,
    by_user BIGINT,
    action TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX work_order_events_order ON work_order_events(order_id, id);
-- Quality scores per checked batch on the GB/T 36344 dimensions, and the bureau's weights.
CREATE TABLE quality_scores (
    batch_id TEXT PRIMARY KEY,
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    org_id BIGINT NOT NULL,
    records BIGINT NOT NULL,
    dimensions TEXT NOT NULL,
    total DOUBLE PRECISION NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX quality_scores_resource ON quality_scores(resource_id, created_at);
CREATE INDEX quality_scores_org ON quality_scores(org_id, created_at);
CREATE TABLE quality_weights (
    dimension TEXT PRIMARY KEY,
    weight DOUBLE PRECISION NOT NULL
);
