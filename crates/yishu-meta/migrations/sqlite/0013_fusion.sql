-- Fusion (融合, R18–R24): the plan (sources and survivorship rules) in versions, the runs, and the
-- review queue of records linking could not decide.
CREATE TABLE fusion_plans (
    version INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL,
    saved_by BIGINT REFERENCES users(id),
    saved_at BIGINT NOT NULL
);
CREATE TABLE fusion_runs (
    id TEXT PRIMARY KEY,
    plan_version BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    status TEXT NOT NULL,
    report TEXT NOT NULL DEFAULT '{}'
);
-- One row per record in doubt (its resource, row and role): the candidate subject, the evidence,
-- and a person's decision, which later runs follow.
CREATE TABLE fusion_reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_code TEXT NOT NULL,
    ods_ref TEXT NOT NULL,
    role TEXT NOT NULL,
    subject_key TEXT NOT NULL,
    probability DOUBLE PRECISION NOT NULL,
    reason TEXT NOT NULL,
    evidence TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    decided_by BIGINT REFERENCES users(id),
    decided_at BIGINT,
    note TEXT NOT NULL DEFAULT '',
    run_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX fusion_reviews_record ON fusion_reviews(resource_code, ods_ref, role);
CREATE INDEX fusion_reviews_status ON fusion_reviews(status);
-- Work orders now come from quality rules and from fusion conflicts (rule_id then numbers the
-- attribute within the plan's subject kind).
ALTER TABLE work_orders ADD COLUMN kind TEXT NOT NULL DEFAULT 'quality';
DROP INDEX work_orders_one_open;
CREATE UNIQUE INDEX work_orders_one_open ON work_orders(kind, resource_id, rule_id) WHERE status <> 'closed';
