-- depends: 0005_placement_refs
-- A commit of outbox rows wakes the relay that leads their lane, whichever request, consumer
-- or replica wrote them: the relay LISTENs on `shouwang_triage_outbox` (adapters/outbox.py).
-- NOTIFY is delivered at commit only (never for a rollback) and once per transaction and
-- lane, however many rows or statements. The payload is the lane (`urgent`, `bulk`), never
-- data. Statement-level, over the rows the statement added.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('shouwang_triage_outbox', lane) FROM (SELECT DISTINCT lane FROM added) lanes;
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
