-- depends: 0001_initial
-- Housekeeping forgets consumed event ids older than any topic's retention, by age.
CREATE INDEX processed_events_age ON processed_events (processed_at);
