-- What each batch found about the source's shape: items the source lacks and columns it has that
-- no item describes (JSON), for the resource's drift report.
ALTER TABLE batches ADD COLUMN drift TEXT NOT NULL DEFAULT '{}';
