-- Function APIs (R28): a service version may call other services and verifications in steps
-- instead of running SQL; its steps, JSON ('[]' for an SQL service).
ALTER TABLE services ADD COLUMN steps TEXT NOT NULL DEFAULT '[]';
