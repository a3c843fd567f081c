-- Society's part of open data (R34): demand requests anyone makes and departments answer in
-- public within a deadline; ratings and comments on datasets, shown once moderated; and the
-- showcase of applications built on open data, shown once reviewed.
CREATE TABLE open_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    -- the department asked (none: the bureau routes it)
    org_id BIGINT REFERENCES orgs(id),
    -- the registered user who asked, if any; anonymous requests keep only a truncated address
    user_id BIGINT REFERENCES users(id),
    source_ip TEXT NOT NULL,
    -- open, answered
    status TEXT NOT NULL,
    -- granted (opened or to be opened), partly, refused (with the reason), or empty
    outcome TEXT NOT NULL,
    answer TEXT NOT NULL,
    answered_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    answered_at BIGINT
);
CREATE INDEX open_requests_due ON open_requests(status, due_at);
CREATE TABLE open_ratings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    stars BIGINT NOT NULL,
    comment TEXT NOT NULL,
    -- pending, shown, hidden
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    moderated_by BIGINT REFERENCES users(id),
    moderated_at BIGINT,
    UNIQUE (resource_id, user_id)
);
CREATE TABLE open_showcase (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    url TEXT NOT NULL,
    -- JSON list of the dataset names it uses
    datasets TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id),
    -- pending, shown, hidden
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    moderated_by BIGINT REFERENCES users(id),
    moderated_at BIGINT
);
