-- A batch that no rule and no bound data element measured has no score (未评估), not 100: the total
-- becomes nullable, and the scores saved as 100 with no dimension measured become NULL.
CREATE TABLE quality_scores_new (
    batch_id TEXT PRIMARY KEY,
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    org_id BIGINT NOT NULL,
    records BIGINT NOT NULL,
    dimensions TEXT NOT NULL,
    total DOUBLE PRECISION,
    created_at BIGINT NOT NULL
);
INSERT INTO quality_scores_new
    SELECT batch_id, resource_id, org_id, records, dimensions,
           CASE WHEN dimensions = '{}' THEN NULL ELSE total END, created_at
    FROM quality_scores;
DROP TABLE quality_scores;
ALTER TABLE quality_scores_new RENAME TO quality_scores;
CREATE INDEX quality_scores_resource ON quality_scores(resource_id, created_at);
CREATE INDEX quality_scores_org ON quality_scores(org_id, created_at);
