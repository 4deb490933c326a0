-- depends: 0002_alert_inbox
-- A commit of outbox rows wakes the relay that leads, whichever request, consumer or replica
-- wrote them: the relay LISTENs on `shouwang_notify_outbox` (adapters/outbox.py). NOTIFY is
-- delivered at commit only (never for a rollback) and once per transaction, however many
-- rows or statements. The payload is the lane, never data. Statement-level, so a batch of
-- rows costs one call.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('shouwang_notify_outbox', 'events');
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
