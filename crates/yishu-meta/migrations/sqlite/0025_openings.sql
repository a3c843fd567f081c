-- Open data (数据开放, R33): a published resource opened to the public is a grant to the
-- public organisation (items, row filter, masks) that every open read passes through; this
-- table keeps the opening's lifecycle: open -> (updated) -> withdrawn -> destroyed, the record
-- that a dataset existed kept after its data is gone.
CREATE TABLE openings (
    resource_id BIGINT PRIMARY KEY REFERENCES resources(id),
    grant_id BIGINT NOT NULL REFERENCES grants(id),
    -- open, withdrawn, destroyed
    status TEXT NOT NULL,
    -- why it was withdrawn or destroyed (shown to the public)
    reason TEXT NOT NULL,
    opened_by BIGINT NOT NULL REFERENCES users(id),
    opened_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    downloads BIGINT NOT NULL,
    calls BIGINT NOT NULL
);
CREATE INDEX openings_updated ON openings(updated_at);
-- Every step of an opening's life, as its version history shows it.
CREATE TABLE opening_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    at BIGINT NOT NULL,
    -- opened, updated, withdrawn, reopened, destroyed
    event TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor_id BIGINT REFERENCES users(id)
);
CREATE INDEX opening_events_resource ON opening_events(resource_id, at);
-- Conditional opening (有条件开放): a registered user applies with a purpose, the providing
-- department decides; access is per user and expires.
CREATE TABLE open_access (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    purpose TEXT NOT NULL,
    -- pending, granted, refused
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_at BIGINT,
    decided_by BIGINT REFERENCES users(id)
);
CREATE INDEX open_access_user ON open_access(user_id, resource_id);
