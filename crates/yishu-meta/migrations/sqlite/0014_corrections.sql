-- Correction requests on core attributes (R20): another department proposes, the lead
-- (authoritative) department accepts or rejects; accepted ones count as the authority's value.
CREATE TABLE fusion_corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_kind TEXT NOT NULL,
    subject_key TEXT NOT NULL,
    attribute TEXT NOT NULL,
    value TEXT NOT NULL,
    reason TEXT NOT NULL,
    from_org BIGINT NOT NULL REFERENCES orgs(id),
    to_org TEXT NOT NULL,
    status TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    decided_by BIGINT REFERENCES users(id),
    decided_at BIGINT,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX fusion_corrections_to ON fusion_corrections(to_org, status);
