-- A batch that no rule and no bound data element measured has no score (未评估), not 100: the total
-- becomes nullable, and the scores saved as 100 with no dimension measured become NULL.
ALTER TABLE quality_scores ALTER COLUMN total DROP NOT NULL;
UPDATE quality_scores SET total = NULL WHERE dimensions = '{}';
