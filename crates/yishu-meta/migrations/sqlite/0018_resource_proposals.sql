-- A published entry's items and share/open attributes change only after review (R26): an edit
-- of them is a proposal; the published version stays in force until a data manager approves it.
CREATE TABLE resource_proposals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    base_version BIGINT NOT NULL,
    draft TEXT NOT NULL,
    status TEXT NOT NULL,
    proposed_by BIGINT NOT NULL REFERENCES users(id),
    proposed_at BIGINT NOT NULL,
    decided_by BIGINT REFERENCES users(id),
    decided_at BIGINT,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX resource_proposals_resource ON resource_proposals(resource_id, status);
