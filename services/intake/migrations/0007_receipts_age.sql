-- depends: 0006_receipts_student
-- Retention (PIPL Art. 19; docs/retention.md): a receipt ends INTAKE_RECEIPT_RETENTION_DAYS
-- after it last moved, unless its case is still being handled. The hourly chore deletes them
-- in small batches, the oldest first; this index keeps each batch from reading the table.
CREATE INDEX receipts_age ON receipts (updated_at) WHERE status <> 'in_progress';
