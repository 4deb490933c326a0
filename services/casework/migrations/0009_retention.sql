-- depends: 0007_outbox_notify
-- Retention (PIPL Art. 19 and 47; docs/retention.md): a student file's free text ends once
-- every case of the student has been closed for the retention period. What ends: notes, plan
-- texts, history texts, consent and follow-up reasons, referral destinations, break-the-glass
-- reasons and review notes, reporters' notes and locations. What stays: the structured,
-- pseudonymous facts (states, severities, times, outcomes) and an audit entry saying the text
-- was erased by retention (never what it said).
--
-- The history is append-only and the runtime role may not UPDATE it (0006); it does not gain
-- that right. One function, owned by the owner role and run with its rights (SECURITY
-- DEFINER), erases exactly one student's file when, and only when, it is due: no case open,
-- the last closed longer ago than the period (never shorter than the floor below, whatever
-- the caller passes). The history's trigger lets the owner blank `sealed_text` and nothing
-- else, and only inside that function.

-- Which files were erased, through which closure: a file whose student had a case reopened
-- and closed again after it is due again once that closure is as old.
CREATE TABLE retention_erasures (
    campus_id    text        NOT NULL,
    student_ref  text        NOT NULL,
    through      timestamptz NOT NULL,   -- the last closure the erasure covered
    erased_at    timestamptz NOT NULL DEFAULT now(),
    cases        integer     NOT NULL,
    PRIMARY KEY (campus_id, student_ref, through)
);
ALTER TABLE retention_erasures ENABLE ROW LEVEL SECURITY;
ALTER TABLE retention_erasures FORCE ROW LEVEL SECURITY;
CREATE POLICY campus_isolation ON retention_erasures
    USING (campus_id = current_setting('shouwang.campus_id', true))
    WITH CHECK (campus_id = current_setting('shouwang.campus_id', true));
-- The due-file query: closed cases by closure time.
CREATE INDEX cases_closed ON cases (campus_id, closed_at) WHERE state = 'closed';

-- A reason that retention erased is no longer kept; the rows say when it went.
ALTER TABLE consents ADD COLUMN text_erased_at timestamptz;
ALTER TABLE consents DROP CONSTRAINT consents_check;
ALTER TABLE consents ADD CONSTRAINT consents_override_reason_kept
    CHECK (decision <> 'overridden' OR sealed_reason IS NOT NULL OR text_erased_at IS NOT NULL);
ALTER TABLE break_glass_grants ADD COLUMN text_erased_at timestamptz;
ALTER TABLE break_glass_grants DROP CONSTRAINT break_glass_reason_kept;
ALTER TABLE break_glass_grants ADD CONSTRAINT break_glass_reason_kept
    CHECK (reason IS NOT NULL OR sealed_reason IS NOT NULL OR text_erased_at IS NOT NULL);
ALTER TABLE referrals ADD COLUMN text_erased_at timestamptz;
ALTER TABLE follow_ups ADD COLUMN text_erased_at timestamptz;
ALTER TABLE plans ADD COLUMN text_erased_at timestamptz;
ALTER TABLE file_reports ADD COLUMN text_erased_at timestamptz;

-- The history stays append-only for everyone, the owner included, with one exception: inside
-- the retention function (which sets `shouwang.retention_erasing` for its transaction) the
-- table's owner may blank a row's `sealed_text`, changing nothing else. The runtime role has
-- no UPDATE right on the table at all (0006), so the setting alone opens nothing to it.
CREATE OR REPLACE FUNCTION case_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND current_setting('shouwang.retention_erasing', true) = 'on'
       AND current_user = (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID)
       AND NEW.sealed_text IS NULL
       AND (NEW.id, NEW.campus_id, NEW.case_id, NEW.seq, NEW.kind, NEW.from_state,
            NEW.to_state, NEW.actor_ref, NEW.actor_role, NEW.detail, NEW.at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.campus_id, OLD.case_id, OLD.seq, OLD.kind, OLD.from_state,
            OLD.to_state, OLD.actor_ref, OLD.actor_role, OLD.detail, OLD.at)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'case_history is append-only';
END;
$$;

-- Erase one student's file text if it is due; returns how many cases it covered (0: not due,
-- nothing touched). Runs in the caller's transaction, on the campus the caller set.
CREATE FUNCTION erase_closed_file_text(p_student_ref text, p_retention interval)
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
     WHERE student_ref = p_student_ref AND text_erased_at IS NULL AND granted_at < cutoff;
    UPDATE file_reports SET note_sealed = NULL, location = NULL, text_erased_at = now()
     WHERE student_ref = p_student_ref AND text_erased_at IS NULL AND received_at < cutoff
       AND (note_sealed IS NOT NULL OR location IS NOT NULL);

    INSERT INTO retention_erasures (campus_id, student_ref, through, cases)
    VALUES (campus, p_student_ref, last_closed, n);
    INSERT INTO audit_log (campus_id, principal_ref, role, student_ref, action, reason)
    VALUES (campus, 'retention', 'system', p_student_ref, 'file.text_erased',
            format('retention:%s;cases:%s', p_retention, n));
    RETURN n;
END;
$$;

DO $$
BEGIN
    -- Resolve names in this schema only, whatever the caller's search_path says.
    EXECUTE format(
        'ALTER FUNCTION erase_closed_file_text(text, interval) SET search_path = %I, pg_temp',
        current_schema()
    );
    -- Only the service may call it; its erasures table it may read, never write.
    EXECUTE 'REVOKE ALL ON FUNCTION erase_closed_file_text(text, interval) FROM PUBLIC';
    EXECUTE format(
        'GRANT EXECUTE ON FUNCTION erase_closed_file_text(text, interval) TO %I', current_schema()
    );
    EXECUTE format(
        'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON retention_erasures FROM %I', current_schema()
    );
END;
$$;
