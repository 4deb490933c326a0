-- depends: 0011_person_limits
-- Severe and critical alerts to one person on one human channel, coalesced per burst
-- (service_layer/bursts.py): a person's first alert goes at once and opens a window; the ones
-- after it within the window wait in `bundle_items` (kind 'alerts') and go as one message.
-- * `informed_windows` keeps every kind of window: the oversight notices' ('informed') and
--   the alert bursts' ('alerts:<channel>'), one row per person and kind.
-- * The on-duty line holds no role: a bundle item's role may be empty.
-- * Each held alert is recorded as a `deliveries` row of its own, status 'bundled', carried
--   by the bundle's message (`carried_by`: that message's source event id, which its fallback
--   on the next channel keeps); it becomes sent or failed with it.
ALTER TABLE informed_windows ADD COLUMN kind text NOT NULL DEFAULT 'informed';
ALTER TABLE informed_windows DROP CONSTRAINT informed_windows_pkey;
ALTER TABLE informed_windows ADD PRIMARY KEY (campus_id, person_ref, kind);

ALTER TABLE bundle_items DROP CONSTRAINT bundle_items_kind_check;
ALTER TABLE bundle_items ADD CONSTRAINT bundle_items_kind_check
    CHECK (kind IN ('digest', 'case', 'informed', 'alerts'));
ALTER TABLE bundle_items ALTER COLUMN role DROP NOT NULL;

ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled', 'call_task', 'bundled'));
ALTER TABLE deliveries ADD COLUMN carried_by text;
CREATE INDEX deliveries_carried ON deliveries (carried_by) WHERE carried_by IS NOT NULL;
