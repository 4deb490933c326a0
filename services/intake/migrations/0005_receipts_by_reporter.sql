-- depends: 0004_batch_heartbeat
-- A reporter lists their own receipts, newest first (the web app's "my reports").
CREATE INDEX receipts_by_reporter ON receipts (campus_id, reporter_ref, received_at DESC);
