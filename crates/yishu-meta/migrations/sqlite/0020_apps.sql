-- Apps (接入应用): a consumer department's system that calls data services with its own keys,
-- from the addresses it names, at the rate it is allowed; suspending it stops every key at once.
CREATE TABLE apps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    -- addresses or CIDR ranges, one per line; empty means anywhere
    ip_allow TEXT NOT NULL,
    -- calls a minute over all its keys; 0 leaves only the grants' limits
    per_minute BIGINT NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (org_id, name)
);
ALTER TABLE api_keys ADD COLUMN app_id BIGINT REFERENCES apps(id);
CREATE INDEX api_keys_app ON api_keys(app_id);
