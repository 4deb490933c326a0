-- depends: 0007_receipts_age
-- Retention (PIPL Art. 19; docs/retention.md): a census upload's row errors end
-- INTAKE_CENSUS_ERROR_DAYS after the upload ended, its record INTAKE_CENSUS_BATCH_DAYS after.
-- The hourly chore picks the old uploads by when they last moved; this index keeps each turn
-- from reading the whole table.
CREATE INDEX census_batches_age ON census_batches ((coalesce(completed_at, heartbeat_at, created_at)));
