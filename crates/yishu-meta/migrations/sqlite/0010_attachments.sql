-- Files that are not tables (R10 非结构化数据): PDF, DOCX and images attached to a resource, kept as
-- objects in the lake, with their metadata and the text extracted from them (searchable).
CREATE TABLE attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    checksum TEXT NOT NULL,
    object_key TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    pages BIGINT,
    text TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (resource_id, checksum)
);
CREATE INDEX attachments_resource ON attachments(resource_id);
