-- depends: 0009_retention
-- Erasure on request (PIPL Art. 47): the counseling center erases one student's file text at
-- once, on the student's written request, once no case of the student is open. It erases
-- what retention would (0009), and everything of that kind up to now; the structured facts
-- and the audit log stay. `erase_closed_file_text` and the new `erase_file_text_on_request`
-- share one body, `erase_file_text_before`, which only they (running as the owner) call.

CREATE FUNCTION erase_file_text_before(p_student_ref text, p_cutoff timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('shouwang.retention_erasing', 'on', true);
    UPDATE case_history SET sealed_text = NULL
     WHERE sealed_text IS NOT NULL
       AND case_id IN (SELECT case_id FROM cases WHERE student_ref = p_student_ref);
    PERFORM set_config('shouwang.retention_erasing', 'off', true);

    DELETE FROM notes WHERE student_ref = p_student_ref;
    UPDATE plans p SET actions = (
               SELECT coalesce(jsonb_agg(jsonb_set(a, '{description}', 'null') ORDER BY i),
                               '[]'::jsonb)
               FROM jsonb_array_elements(p.actions) WITH ORDINALITY AS e(a, i)),
           text_erased_at = now()
     WHERE text_erased_at IS NULL
       AND case_id IN (SELECT case_id FROM cases WHERE student_ref = p_student_ref);
    UPDATE consents SET sealed_reason = NULL, text_erased_at = now()
     WHERE text_erased_at IS NULL AND sealed_reason IS NOT NULL
       AND case_id IN (SELECT case_id FROM cases WHERE student_ref = p_student_ref);
    UPDATE follow_ups SET sealed_reason = NULL, text_erased_at = now()
     WHERE text_erased_at IS NULL AND sealed_reason IS NOT NULL
       AND case_id IN (SELECT case_id FROM cases WHERE student_ref = p_student_ref);
    UPDATE referrals SET destination = '', text_erased_at = now()
     WHERE text_erased_at IS NULL
       AND case_id IN (SELECT case_id FROM cases WHERE student_ref = p_student_ref);
    UPDATE break_glass_grants
       SET reason = NULL, sealed_reason = NULL, review_note = NULL, sealed_review_note = NULL,
           text_erased_at = now()
     WHERE student_ref = p_student_ref AND text_erased_at IS NULL AND granted_at < p_cutoff;
    UPDATE file_reports SET note_sealed = NULL, location = NULL, text_erased_at = now()
     WHERE student_ref = p_student_ref AND text_erased_at IS NULL AND received_at < p_cutoff
       AND (note_sealed IS NOT NULL OR location IS NOT NULL);
END;
$$;

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
    INSERT INTO retention_erasures (campus_id, student_ref, through, cases)
    VALUES (campus, p_student_ref, last_closed, n);
    INSERT INTO audit_log (campus_id, principal_ref, role, student_ref, action, reason)
    VALUES (campus, 'retention', 'system', p_student_ref, 'file.text_erased',
            format('retention:%s;cases:%s', p_retention, n));
    RETURN n;
END;
$$;

-- Erase one student's file text now; refused (object_in_use) while a case is open. Returns
-- how many cases it covered. `p_principal_ref` and `p_role` are the caller's, for the audit
-- entry; `p_request_ref` is the written request's reference (never its text).
CREATE FUNCTION erase_file_text_on_request(
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
    PERFORM 1 FROM cases WHERE student_ref = p_student_ref FOR UPDATE;
    SELECT count(*) FILTER (WHERE state <> 'closed'), count(*) INTO open_cases, n
      FROM cases WHERE student_ref = p_student_ref;
    IF open_cases > 0 THEN
        RAISE EXCEPTION 'the student has a case open' USING ERRCODE = 'object_in_use';
    END IF;
    PERFORM erase_file_text_before(p_student_ref, now());
    INSERT INTO retention_erasures (campus_id, student_ref, through, cases)
    VALUES (campus, p_student_ref, now(), n);
    INSERT INTO audit_log (campus_id, principal_ref, role, student_ref, action, reason)
    VALUES (campus, p_principal_ref, p_role, p_student_ref, 'file.text_erased',
            format('request:%s;cases:%s', p_request_ref, n));
    RETURN n;
END;
$$;

DO $$
BEGIN
    EXECUTE format(
        'ALTER FUNCTION erase_file_text_on_request(text, text, text, text)'
        ' SET search_path = %I, pg_temp', current_schema()
    );
    EXECUTE format(
        'ALTER FUNCTION erase_file_text_before(text, timestamptz) SET search_path = %I, pg_temp',
        current_schema()
    );
    EXECUTE 'REVOKE ALL ON FUNCTION erase_file_text_on_request(text, text, text, text) FROM PUBLIC';
    EXECUTE format(
        'GRANT EXECUTE ON FUNCTION erase_file_text_on_request(text, text, text, text) TO %I',
        current_schema()
    );
    -- The shared body runs only inside the two functions above (as the owner).
    EXECUTE 'REVOKE ALL ON FUNCTION erase_file_text_before(text, timestamptz) FROM PUBLIC';
    EXECUTE format(
        'REVOKE ALL ON FUNCTION erase_file_text_before(text, timestamptz) FROM %I',
        current_schema()
    );
END;
$$;
