-- Sharing under grants (R26, R37): a consumer department's application for a resource or a base
-- library, each step of its review, and the grant it ends in. A grant is the only way data leaves.
CREATE TABLE share_applications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    consumer_org_id BIGINT NOT NULL REFERENCES orgs(id),
    applicant_id BIGINT NOT NULL REFERENCES users(id),
    -- `resource:<id>` or `base:<library>`
    target TEXT NOT NULL,
    resource_id BIGINT REFERENCES resources(id),
    provider_org_id BIGINT NOT NULL REFERENCES orgs(id),
    items TEXT NOT NULL,
    purpose TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    scenario TEXT NOT NULL,
    period_from BIGINT NOT NULL,
    period_to BIGINT NOT NULL,
    expected_volume TEXT NOT NULL,
    contact TEXT NOT NULL,
    share_type TEXT NOT NULL,
    status TEXT NOT NULL,
    -- The terms the provider approved (filter, masks, limits, expiry), JSON; `{}` before.
    terms TEXT NOT NULL DEFAULT '{}',
    step_deadline BIGINT,
    escalated_at BIGINT,
    grant_id BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX share_applications_consumer ON share_applications(consumer_org_id, status);
CREATE INDEX share_applications_provider ON share_applications(provider_org_id, status);

CREATE TABLE share_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id BIGINT NOT NULL REFERENCES share_applications(id),
    step TEXT NOT NULL,
    decision TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor_id BIGINT REFERENCES users(id),
    org_id BIGINT REFERENCES orgs(id),
    at BIGINT NOT NULL,
    deadline BIGINT
);
CREATE INDEX share_steps_application ON share_steps(application_id);

CREATE TABLE grants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id BIGINT REFERENCES share_applications(id),
    consumer_org_id BIGINT NOT NULL REFERENCES orgs(id),
    provider_org_id BIGINT NOT NULL REFERENCES orgs(id),
    target TEXT NOT NULL,
    resource_id BIGINT REFERENCES resources(id),
    items TEXT NOT NULL,
    row_filter TEXT NOT NULL,
    masks TEXT NOT NULL,
    per_minute BIGINT NOT NULL,
    rows_per_day BIGINT NOT NULL,
    purpose TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT NOT NULL DEFAULT '',
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX grants_consumer ON grants(consumer_org_id, status);
CREATE INDEX grants_provider ON grants(provider_org_id);

-- Notifications now also come from sharing (an application to decide, a grant made), which may
-- be about a base library rather than a catalog entry: the resource becomes optional and each
-- notice carries the console page it points to.
CREATE TABLE notifications_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users(id),
    resource_id BIGINT REFERENCES resources(id),
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    link TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    read_at BIGINT
);
INSERT INTO notifications_new (id, user_id, resource_id, kind, message, created_at, read_at)
    SELECT id, user_id, resource_id, kind, message, created_at, read_at FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE INDEX notifications_user ON notifications(user_id, created_at);
