-- depends: 0003_clinical_safety
-- Every read of a student's grade, and every refused one, like casework's file reads: who
-- (the token's subject and id, and role), whom (student_ref), what happened. Append-only:
-- the service's runtime role may INSERT and SELECT, and a trigger refuses changes to anyone.
CREATE TABLE grade_reads (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campus_id      text        NOT NULL,
    at             timestamptz NOT NULL DEFAULT now(),
    principal_sub  text        NOT NULL,
    token_id       text,
    role           text        NOT NULL,
    student_ref    text        NOT NULL,
    action         text        NOT NULL,   -- grade.read | grade.read.refused
    reason         text                    -- the refusal's code
);
CREATE INDEX grade_reads_student ON grade_reads (campus_id, student_ref, id);

CREATE FUNCTION grade_reads_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'grade_reads is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER grade_reads_no_update_delete BEFORE UPDATE OR DELETE ON grade_reads
    FOR EACH ROW EXECUTE FUNCTION grade_reads_refuse_change();
CREATE TRIGGER grade_reads_no_truncate BEFORE TRUNCATE ON grade_reads
    FOR EACH STATEMENT EXECUTE FUNCTION grade_reads_refuse_change();

DO $$
BEGIN
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON grade_reads FROM %I', current_schema());
END;
$$;
