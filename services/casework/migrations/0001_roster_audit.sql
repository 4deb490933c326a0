-- Casework's records: the roster (students, staff, assignments), the audit log, break-the-glass
-- grants, and what the student file (档案) keeps of reports, screenings and assessments.
-- Runs as role `casework` with search_path = casework. Every table carries `campus_id` and is
-- held to it by FORCE ROW LEVEL SECURITY (see adapters/db.py: campus_transaction).

-- Students and their placement. 学号 and name live only here; everything else names the
-- student by `student_ref` (the HMAC intake also computes).
CREATE TABLE students (
    campus_id    text        NOT NULL,
    student_ref  text        NOT NULL,
    student_no   text        NOT NULL,
    name         text        NOT NULL,
    gender       text,
    college      text,
    major        text,
    class_name   text,
    campus_name  text,  -- 校区 as the export writes it; informational
    building     text,
    floor        text,
    room         text,
    active       boolean     NOT NULL DEFAULT true,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campus_id, student_ref),
    UNIQUE (campus_id, student_no)
);
CREATE INDEX students_building ON students (campus_id, building) WHERE active;
CREATE INDEX students_class ON students (campus_id, class_name) WHERE active;

-- People who hold a role: staff (工号) and student members of tiers 1-3 (学号).
-- person_ref = Pseudonymizer.person_ref(campus_id, number): the number is the token's `sub`.
CREATE TABLE staff (
    campus_id   text        NOT NULL,
    person_ref  text        NOT NULL,
    staff_no    text        NOT NULL,
    name        text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campus_id, person_ref),
    UNIQUE (campus_id, staff_no)
);

-- Who holds which role for which part of the campus. Values match auth.Placement.matches:
-- campus '' | college 学院 | class 班级 | building 8号楼 | floor 8号楼/2 | room 8号楼/202.
CREATE TABLE staff_assignments (
    campus_id    text NOT NULL,
    person_ref   text NOT NULL,
    role         text NOT NULL,
    scope_kind   text NOT NULL
                 CHECK (scope_kind IN ('campus', 'college', 'class', 'building', 'floor', 'room')),
    scope_value  text NOT NULL,
    PRIMARY KEY (campus_id, person_ref, role, scope_kind, scope_value)
);
CREATE INDEX staff_assignments_scope ON staff_assignments (campus_id, role, scope_kind, scope_value);

CREATE TABLE roster_imports (
    id           uuid        PRIMARY KEY,
    campus_id    text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('students', 'staff')),
    mode         text        NOT NULL CHECK (mode IN ('snapshot', 'upsert')),
    file_name    text        NOT NULL,
    file_sha256  text        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('applied', 'rejected', 'dry_run')),
    counts       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    errors       jsonb       NOT NULL DEFAULT '[]'::jsonb,
    actor_ref    text        NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX roster_imports_at ON roster_imports (campus_id, at DESC);

-- Every read of a student file, and every break-the-glass. Append-only: no UPDATE, DELETE or
-- TRUNCATE, by privilege and by trigger (the owner could grant itself the privilege back; the
-- trigger still refuses).
CREATE TABLE audit_log (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campus_id      text        NOT NULL,
    at             timestamptz NOT NULL DEFAULT now(),
    principal_ref  text        NOT NULL,
    role           text        NOT NULL,
    student_ref    text,
    action         text        NOT NULL,
    reason         text,
    break_glass    boolean     NOT NULL DEFAULT false
);
CREATE INDEX audit_log_student ON audit_log (campus_id, student_ref, id);
CREATE INDEX audit_log_principal ON audit_log (campus_id, principal_ref, id);
CREATE INDEX audit_log_break_glass ON audit_log (campus_id, id) WHERE break_glass;

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM CURRENT_USER;

-- A tier-4+ staff member outside a student's scope opened the file for a limited time with a
-- written reason; a tier-6 reviewer looks at every grant afterwards.
CREATE TABLE break_glass_grants (
    id              uuid        PRIMARY KEY,
    campus_id       text        NOT NULL,
    person_ref      text        NOT NULL,
    role            text        NOT NULL,
    student_ref     text        NOT NULL,
    reason          text        NOT NULL CHECK (length(btrim(reason)) >= 8),
    granted_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    reviewed_by     text,
    reviewed_at     timestamptz,
    review_outcome  text        CHECK (review_outcome IN ('justified', 'unjustified')),
    review_note     text,
    CHECK (expires_at > granted_at)
);
CREATE INDEX break_glass_active ON break_glass_grants (campus_id, person_ref, student_ref, expires_at);
CREATE INDEX break_glass_unreviewed ON break_glass_grants (campus_id, granted_at)
    WHERE reviewed_at IS NULL;

-- What the student file keeps of other services' events, idempotent by event id.
-- Notes stay sealed as received (AES-GCM, EncryptedText JSON); they open only on a read in scope.
CREATE TABLE file_reports (
    campus_id      text        NOT NULL,
    report_id      text        NOT NULL,
    event_id       text        NOT NULL,
    student_ref    text        NOT NULL,
    reporter_ref   text        NOT NULL,
    reporter_role  text        NOT NULL,
    signals        text[]      NOT NULL,
    observed_at    timestamptz NOT NULL,
    received_at    timestamptz NOT NULL,
    location       text,
    note_sealed    jsonb,
    stored_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campus_id, report_id),
    UNIQUE (campus_id, event_id)
);
CREATE INDEX file_reports_student ON file_reports (campus_id, student_ref, observed_at);

CREATE TABLE file_screenings (
    campus_id             text        NOT NULL,
    screening_id          text        NOT NULL,
    event_id              text        NOT NULL,
    student_ref           text        NOT NULL,
    submitted_by_ref      text        NOT NULL,
    instrument            text        NOT NULL,
    items                 smallint[]  NOT NULL,
    total_score           integer     NOT NULL,
    behavior_recency      text,
    counseling_requested  boolean,
    administered_at       timestamptz NOT NULL,
    batch_id              text,
    stored_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campus_id, screening_id),
    UNIQUE (campus_id, event_id)
);
CREATE INDEX file_screenings_student ON file_screenings (campus_id, student_ref, administered_at);

CREATE TABLE file_assessments (
    campus_id          text        NOT NULL,
    assessment_id      text        NOT NULL,
    event_id           text        NOT NULL,
    student_ref        text        NOT NULL,
    severity           text        NOT NULL,
    previous_severity  text        NOT NULL,
    reasons            jsonb       NOT NULL,
    policy_version     text        NOT NULL,
    trigger            text        NOT NULL,
    report_ids         text[]      NOT NULL DEFAULT '{}',
    screening_ids      text[]      NOT NULL DEFAULT '{}',
    graded_at          timestamptz NOT NULL,
    stored_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campus_id, assessment_id),
    UNIQUE (campus_id, event_id)
);
CREATE INDEX file_assessments_student ON file_assessments (campus_id, student_ref, graded_at);

-- Campus isolation on every table above.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'students', 'staff', 'staff_assignments', 'roster_imports', 'audit_log',
        'break_glass_grants', 'file_reports', 'file_screenings', 'file_assessments'
    ] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY campus_isolation ON %I '
            'USING (campus_id = current_setting(''shouwang.campus_id'', true)) '
            'WITH CHECK (campus_id = current_setting(''shouwang.campus_id'', true))',
            t
        );
    END LOOP;
END;
$$;
