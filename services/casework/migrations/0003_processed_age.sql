-- depends: 0002_cases
-- Housekeeping forgets consumed event ids older than any topic's retention, by age.
CREATE INDEX processed_events_age ON processed_events (campus_id, processed_at);
