-- depends: 0013_person_limits
-- A report received before a file's text was erased but filed after it (the file-reports
-- consumer behind, a redelivery) keeps no text: the consumer files its structured facts with
-- no note and no location when an erasure of the student covers its `received_at`
-- (adapters/files.py: store_report). Two things it needs from the erasures:
--
-- 1. Which reports an erasure covered. `erase_file_text_before` blanks the reports received
--    before its cutoff, but `retention_erasures.through` is the cutoff only on request (now());
--    for retention it is the last closure, earlier than the cutoff (now() - the period). The
--    erasures now record the cutoff itself in `text_cutoff` (null on rows from before this
--    migration: `through` stands in, the same on request, an underestimate for retention).
--
-- 2. No interleaving. An erasure's UPDATE cannot see a report inserted by a transaction not
--    yet committed, nor that insert the uncommitted erasure: both take the student's lock,
--    the transaction advisory lock every case write already takes, keyed
--    hashtextextended(campus_id || ':' || student_ref, 0) (adapters/cases.py: lock_student
--    and lock_students compute the same key; change one, change all three). The erasures
--    take it first, before locking the student's cases, as every case writer does, so
--    nothing waits in the other order.

ALTER TABLE retention_erasures ADD COLUMN text_cutoff timestamptz;

CREATE OR REPLACE FUNCTION erase_closed_file_text(p_student_ref text, p_retention interval)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    -- No caller, however configured, erases a file closed more recently than this.
    floor_period constant interval := interval '180 days';
    campus text := current_setting('shouwang.campus_id', true);
    cutoff timestamptz;
    last_closed timestamptz;
    open_cases integer;
    n integer;
BEGIN
    IF campus IS NULL OR campus = '' THEN
        RAISE EXCEPTION 'erase_closed_file_text needs shouwang.campus_id'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_retention IS NULL OR p_retention < floor_period THEN
        RAISE EXCEPTION 'retention % is shorter than the floor %', p_retention, floor_period
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cutoff := now() - p_retention;
    -- The student's lock (key: see the top of this migration), then their cases.
    PERFORM pg_advisory_xact_lock(hashtextextended(campus || ':' || p_student_ref, 0));
    -- Lock the student's cases: a case reopened meanwhile waits for us, or we see it open.
    PERFORM 1 FROM cases WHERE student_ref = p_student_ref FOR UPDATE;
    SELECT count(*) FILTER (WHERE state <> 'closed'), max(closed_at), count(*)
      INTO open_cases, last_closed, n
      FROM cases WHERE student_ref = p_student_ref;
    IF n = 0 OR open_cases > 0 OR last_closed >= cutoff THEN
        RETURN 0;
    END IF;
    IF EXISTS (SELECT 1 FROM retention_erasures
               WHERE student_ref = p_student_ref AND through >= last_closed) THEN
        RETURN 0;
    END IF;
    PERFORM erase_file_text_before(p_student_ref, cutoff);
    INSERT INTO retention_erasures (campus_id, student_ref, through, cases, text_cutoff)
    VALUES (campus, p_student_ref, last_closed, n, cutoff);
    INSERT INTO audit_log (campus_id, principal_ref, role, student_ref, action, reason)
    VALUES (campus, 'retention', 'system', p_student_ref, 'file.text_erased',
            format('retention:%s;cases:%s', p_retention, n));
    RETURN n;
END;
$$;

CREATE OR REPLACE FUNCTION erase_file_text_on_request(
    p_student_ref text, p_principal_ref text, p_role text, p_request_ref text
) RETURNS integer LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    campus text := current_setting('shouwang.campus_id', true);
    open_cases integer;
    n integer;
BEGIN
    IF campus IS NULL OR campus = '' THEN
        RAISE EXCEPTION 'erase_file_text_on_request needs shouwang.campus_id'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_role IS DISTINCT FROM 'counseling_center' THEN
        RAISE EXCEPTION 'only the counseling center erases a file on request'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- The student's lock (key: see the top of this migration), then their cases.
    PERFORM pg_advisory_xact_lock(hashtextextended(campus || ':' || p_student_ref, 0));
    PERFORM 1 FROM cases WHERE student_ref = p_student_ref FOR UPDATE;
    SELECT count(*) FILTER (WHERE state <> 'closed'), count(*) INTO open_cases, n
      FROM cases WHERE student_ref = p_student_ref;
    IF open_cases > 0 THEN
        RAISE EXCEPTION 'the student has a case open' USING ERRCODE = 'object_in_use';
    END IF;
    PERFORM erase_file_text_before(p_student_ref, now());
    INSERT INTO retention_erasures (campus_id, student_ref, through, cases, text_cutoff)
    VALUES (campus, p_student_ref, now(), n, now());
    INSERT INTO audit_log (campus_id, principal_ref, role, student_ref, action, reason)
    VALUES (campus, p_principal_ref, p_role, p_student_ref, 'file.text_erased',
            format('request:%s;cases:%s', p_request_ref, n));
    RETURN n;
END;
$$;

-- CREATE OR REPLACE keeps the owner and the grants (0009, 0010) but not the SET clauses:
-- resolve names in this schema only again.
DO $$
BEGIN
    EXECUTE format(
        'ALTER FUNCTION erase_closed_file_text(text, interval) SET search_path = %I, pg_temp',
        current_schema()
    );
    EXECUTE format(
        'ALTER FUNCTION erase_file_text_on_request(text, text, text, text)'
        ' SET search_path = %I, pg_temp', current_schema()
    );
END;
$$;
