-- depends: 0003_batch_failure_en
-- A census upload in progress refreshes heartbeat_at every few seconds. A batch still
-- 'processing' whose heartbeat stopped was cut off by a dying process: GET reports it failed
-- (interrupted) and the same file may start again, within a minute instead of 15.
ALTER TABLE census_batches ADD COLUMN heartbeat_at timestamptz;
