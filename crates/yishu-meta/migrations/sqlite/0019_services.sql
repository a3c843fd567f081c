-- Data services (R28): an API written once in SQL with typed named parameters. Each version is
-- its own row (v1 and v2 serve side by side) and moves draft → tested → reviewed → published →
-- deprecated → retired; what the SQL reads and returns is kept as checked at definition time.
CREATE TABLE services (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    provider_org_id BIGINT NOT NULL REFERENCES orgs(id),
    author_id BIGINT NOT NULL REFERENCES users(id),
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    sql_text TEXT NOT NULL,
    -- the parameters, JSON
    params TEXT NOT NULL,
    row_cap BIGINT NOT NULL,
    timeout_ms BIGINT NOT NULL,
    -- tables read and result columns, JSON
    checked TEXT NOT NULL,
    status TEXT NOT NULL,
    tested_at BIGINT,
    test_rows BIGINT,
    reviewed_by BIGINT REFERENCES users(id),
    review_note TEXT NOT NULL,
    published_at BIGINT,
    sunset_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (name, version)
);
