-- depends: 0012_alert_bursts
-- Every answer of the API that shows contact details (a family's names, mobiles and emails; a
-- staff member's contact points), like casework's audit_log of file reads: who (the reader's
-- pseudonymous person_ref and role), whose (a student's family by student_ref, or a staff
-- member by person_ref: never a 学号 or 工号 in clear), what (`action`), when, and how many
-- contacts the answer held (0: nothing on record, still a read). Written in the read's own
-- transaction: a read whose row cannot be written is not answered. Auditors read it
-- (`GET /v1/contact-reads`, itself recorded here). Kept for ever, as casework keeps its audit
-- log: it is the evidence that access was lawful (docs/retention.md).
-- Append-only: the runtime role may INSERT and SELECT; a trigger refuses changes to anyone.
CREATE TABLE contact_reads (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campus_id     text        NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    reader_ref    text        NOT NULL,
    role          text        NOT NULL,
    action        text        NOT NULL,   -- family.read | staff.read | family.write | ...
    student_ref   text,                   -- family contacts: whose family
    person_ref    text,                   -- staff contacts: whose (`on_duty` for 值班)
    contacts      int         NOT NULL DEFAULT 0 CHECK (contacts >= 0)
);
CREATE INDEX contact_reads_newest ON contact_reads (campus_id, id);
CREATE INDEX contact_reads_reader ON contact_reads (campus_id, reader_ref, id);
CREATE INDEX contact_reads_student ON contact_reads (campus_id, student_ref, id)
    WHERE student_ref IS NOT NULL;

CREATE FUNCTION contact_reads_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'contact_reads is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER contact_reads_no_update_delete BEFORE UPDATE OR DELETE ON contact_reads
    FOR EACH ROW EXECUTE FUNCTION contact_reads_refuse_change();
CREATE TRIGGER contact_reads_no_truncate BEFORE TRUNCATE ON contact_reads
    FOR EACH STATEMENT EXECUTE FUNCTION contact_reads_refuse_change();

DO $$
BEGIN
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON contact_reads FROM %I', current_schema());
END;
$$;

ALTER TABLE contact_reads ENABLE ROW LEVEL SECURITY;
ALTER TABLE contact_reads FORCE ROW LEVEL SECURITY;
CREATE POLICY campus_isolation ON contact_reads
    USING (campus_id = current_setting('shouwang.campus_id', true)
           OR current_setting('shouwang.all_campuses', true) = 'on')
    WITH CHECK (campus_id = current_setting('shouwang.campus_id', true)
           OR current_setting('shouwang.all_campuses', true) = 'on');
