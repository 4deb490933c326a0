-- depends: 0001_initial
-- Alerts taken off Kafka and waiting to be planned, the gravest first. Kafka hands a
-- consumer its records in order, so a critical alert published behind a burst of 10,000
-- moderate ones would wait for all of them to be planned; the consumer instead lands each
-- batch here at once (and commits its offsets), and planners take the gravest waiting
-- alert first (SKIP LOCKED: replicas share the inbox). The event is kept as Kafka carried
-- it: pseudonymous references and structured fields, no personal data.
CREATE TABLE alert_inbox (
    id           bigserial   PRIMARY KEY,
    event_id     text        NOT NULL UNIQUE,
    campus_id    text        NOT NULL,
    priority     int         NOT NULL,            -- 0 = critical first
    event        bytea       NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    -- An alert whose planning failed waits a while before the next try (never dropped).
    attempts     int         NOT NULL DEFAULT 0,
    not_before   timestamptz NOT NULL DEFAULT now(),
    last_error   text                             -- an exception type, never its text
);
CREATE INDEX alert_inbox_order ON alert_inbox (priority, id);

ALTER TABLE alert_inbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_inbox FORCE ROW LEVEL SECURITY;
CREATE POLICY campus_isolation ON alert_inbox
    USING (campus_id = current_setting('shouwang.campus_id', true)
           OR current_setting('shouwang.all_campuses', true) = 'on')
    WITH CHECK (campus_id = current_setting('shouwang.campus_id', true)
           OR current_setting('shouwang.all_campuses', true) = 'on');

-- Lanes claim due messages per channel (a throttled channel's rows stay queued rather than
-- hold a lane's slots), the gravest first.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (channel, priority, not_before) WHERE status = 'pending';
