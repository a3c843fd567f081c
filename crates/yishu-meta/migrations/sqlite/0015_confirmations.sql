-- Core attributes change only after the person concerned confirms (R20): the lead department
-- records how they confirmed (in person at a window, by the government app …) before accepting.
ALTER TABLE fusion_corrections ADD COLUMN confirmation TEXT NOT NULL DEFAULT '';
ALTER TABLE fusion_corrections ADD COLUMN confirmed_by BIGINT REFERENCES users(id);
ALTER TABLE fusion_corrections ADD COLUMN confirmed_at BIGINT;
