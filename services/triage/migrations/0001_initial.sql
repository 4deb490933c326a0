-- Triage's own state: the per-student evidence window, grades, alerts with their deadlines,
-- closed-case history, placements from the directory, processed event ids and the outbox.
-- Runs as role `triage` with search_path = triage; no other service reads these tables.

-- Idempotency: an event id is recorded in the same transaction as its effect, so a redelivered
-- or duplicated event changes nothing.
CREATE TABLE processed_events (
    event_id      text        PRIMARY KEY,
    topic         text        NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX processed_events_age ON processed_events (processed_at);

-- The window: every report and screening about a student, kept as long as the longest
-- campus window needs (old rows are pruned by the service).
CREATE TABLE evidence (
    evidence_id   text        PRIMARY KEY,            -- report_id or screening_id
    campus_id     text        NOT NULL,
    student_ref   text        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('report', 'screening')),
    reporter_ref  text,
    reporter_role text,
    signals       text[]      NOT NULL DEFAULT '{}',
    instrument    text,
    items         smallint[],
    behavior_recency     text,
    counseling_requested boolean,
    observed_at   timestamptz NOT NULL,               -- observed / administered
    received_at   timestamptz NOT NULL
);
CREATE INDEX evidence_student ON evidence (campus_id, student_ref, received_at);

CREATE TABLE grades (
    campus_id      text        NOT NULL,
    student_ref    text        NOT NULL,
    severity       text        NOT NULL,
    reasons        jsonb       NOT NULL,
    policy_version text        NOT NULL,
    assessment_id  text        NOT NULL,
    graded_at      timestamptz NOT NULL,
    PRIMARY KEY (campus_id, student_ref)
);

CREATE TABLE alerts (
    alert_id         text        PRIMARY KEY,
    campus_id        text        NOT NULL,
    student_ref      text        NOT NULL,
    assessment_id    text        NOT NULL,
    severity         text        NOT NULL,
    owner_role       text        NOT NULL,
    inform_roles     text[]      NOT NULL DEFAULT '{}',
    inform_external  text[]      NOT NULL DEFAULT '{}',
    escalation_level integer     NOT NULL DEFAULT 0,
    ack_deadline     timestamptz NOT NULL,
    -- open: waiting for an acknowledgement; acknowledged: someone owns it;
    -- superseded: a higher grade raised a new alert in its place.
    status           text        NOT NULL DEFAULT 'open'
                                 CHECK (status IN ('open', 'acknowledged', 'superseded')),
    -- false once the top of the ladder let its deadline pass too: still open and visible as a
    -- breach, but nobody is left to escalate to.
    climbing         boolean     NOT NULL DEFAULT true,
    superseded_by    text,
    raised_at        timestamptz NOT NULL,
    acknowledged_at  timestamptz,
    acknowledged_by_role text,
    policy_version   text        NOT NULL
);
-- At most one open alert per student: a higher grade supersedes it rather than adding another.
CREATE UNIQUE INDEX alerts_one_open ON alerts (campus_id, student_ref) WHERE status = 'open';
CREATE INDEX alerts_due ON alerts (ack_deadline) WHERE status = 'open' AND climbing;

-- A re-grade lower than the open alert never closes it; it is recorded here.
CREATE TABLE lowered_grades (
    assessment_id  text        PRIMARY KEY,
    alert_id       text        NOT NULL REFERENCES alerts (alert_id),
    campus_id      text        NOT NULL,
    student_ref    text        NOT NULL,
    alert_severity text        NOT NULL,
    new_severity   text        NOT NULL,
    recorded_at    timestamptz NOT NULL
);

-- Closed cases (shouwang.case.closed): history for the grading policy.
CREATE TABLE closed_cases (
    case_id      text        PRIMARY KEY,
    campus_id    text        NOT NULL,
    student_ref  text        NOT NULL,
    severity     text        NOT NULL,
    closed_at    timestamptz NOT NULL
);
CREATE INDEX closed_cases_student ON closed_cases (campus_id, student_ref);

-- Placements materialised from the compacted directory topic, for scope checks.
CREATE TABLE placements (
    campus_id    text        NOT NULL,
    student_ref  text        NOT NULL,
    active       boolean     NOT NULL,
    college      text,
    class_name   text,
    building     text,
    floor        text,
    room         text,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (campus_id, student_ref)
);

-- Transactional outbox. `lane` keeps census traffic from queueing ahead of reports and
-- escalations; the relay drains each lane separately, in id order.
CREATE TABLE outbox (
    id          bigserial   PRIMARY KEY,
    lane        text        NOT NULL CHECK (lane IN ('urgent', 'bulk')),
    event_id    text        NOT NULL UNIQUE,
    topic       text        NOT NULL,
    key         bytea       NOT NULL,
    value       bytea       NOT NULL,
    headers     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_lane ON outbox (lane, id);
