-- Granted downloads (R36): each file's watermark code, so a leaked file names its download.
CREATE TABLE downloads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    grant_id BIGINT NOT NULL REFERENCES grants(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    format TEXT NOT NULL,
    -- the 64-bit code the file's rows carry, as a signed integer
    code BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX downloads_grant ON downloads(grant_id);
