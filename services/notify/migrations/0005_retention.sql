-- depends: 0003_outbox_notify
-- Retention (PIPL Art. 19; docs/retention.md): the rows that only served a delivery end once
-- they are older than NOTIFY_DELIVERY_RETENTION_DAYS: finished deliveries, bundled digest
-- and case items, who could not be reached, expired acknowledgement links, and the cases of
-- closed files with their family-contact decision. The hourly chore deletes them in small
-- batches, the oldest first; these indexes keep each batch from reading the whole table.
-- Redelivered events do not bring them back: the consumers remember event ids for longer
-- than any topic keeps them (processed_events, PROCESSED_EVENT_MEMORY).
CREATE INDEX deliveries_finished ON deliveries (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX bundle_items_bundled ON bundle_items (bundled_at) WHERE bundled_at IS NOT NULL;
CREATE INDEX unreached_age ON unreached (created_at);
CREATE INDEX ack_links_expiry ON ack_links (expires_at);
CREATE INDEX cases_closed ON cases (closed_at) WHERE closed_at IS NOT NULL;
