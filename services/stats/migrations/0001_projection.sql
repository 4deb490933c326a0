-- Stats' own state: the projection of the public events, row per thing they are about.
-- Runs as role `stats` with search_path = stats; no other service reads these tables.
--
-- Every row belongs to a generation of the projection. The live consumers fold events into
-- the active generation; a rebuild replays the topics into a fresh one and swaps it in, so
-- readers never see a half-built projection. Rows hold pseudonymous references and
-- structured facts only (no names, notes or contact details ever reach stats).

CREATE TABLE projection (
    generation    integer     PRIMARY KEY,
    -- The version of the projection rules that built it (PROJECTION_VERSION in the code);
    -- a service whose rules are newer rebuilds.
    version       integer     NOT NULL,
    state         text        NOT NULL CHECK (state IN ('building', 'active', 'retired')),
    started_at    timestamptz NOT NULL DEFAULT now(),
    activated_at  timestamptz,
    -- Records a rebuild replayed (NULL for a generation built by the live consumers).
    replayed      bigint
);
CREATE UNIQUE INDEX projection_one_active ON projection ((true)) WHERE state = 'active';

CREATE TABLE assessments (
    generation    integer     NOT NULL,
    assessment_id text        NOT NULL,
    campus_id     text        NOT NULL,
    student_ref   text        NOT NULL,
    severity      text        NOT NULL,
    source        text        NOT NULL,  -- reporter role, screening, census or unknown
    instrument    text        NOT NULL,  -- the instrument, none (tier report) or unknown
    reported_at   timestamptz,           -- when intake accepted the input
    graded_at     timestamptz NOT NULL,
    PRIMARY KEY (generation, assessment_id)
);

CREATE TABLE alerts (
    generation      integer     NOT NULL,
    alert_id        text        NOT NULL,
    campus_id       text        NOT NULL,
    student_ref     text        NOT NULL,
    assessment_id   text,
    severity        text,
    owner_role      text,                 -- the current rung's owner
    ack_deadline    timestamptz,          -- the current rung's deadline
    level           integer,              -- 0 when raised, +1 per escalation
    raised_at       timestamptz,
    acknowledged_at timestamptz,
    superseded_at   timestamptz,
    case_id         text,
    PRIMARY KEY (generation, alert_id)
);
CREATE INDEX alerts_deadline ON alerts (generation, ack_deadline);

CREATE TABLE escalations (
    generation      integer     NOT NULL,
    alert_id        text        NOT NULL,
    level           integer     NOT NULL,
    campus_id       text        NOT NULL,
    student_ref     text        NOT NULL,
    severity        text        NOT NULL,
    from_role       text        NOT NULL,
    to_role         text        NOT NULL,
    missed_deadline timestamptz NOT NULL,
    escalated_at    timestamptz NOT NULL,
    -- Past the top rung a severe or critical alert re-alerts its owner: a missed deadline,
    -- but no climb.
    realert         boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (generation, alert_id, level)
);
CREATE INDEX escalations_missed ON escalations (generation, missed_deadline);

CREATE TABLE cases (
    generation      integer     NOT NULL,
    case_id         text        NOT NULL,
    campus_id       text        NOT NULL,
    student_ref     text        NOT NULL,
    opened_at       timestamptz,
    severity        text,                 -- the gravest the case reached
    assessment_id   text,                 -- the assessment that opened it
    alert_id        text,
    state           text,
    state_at        timestamptz,
    closed_at       timestamptz,          -- the latest closure (the case may be reopened)
    outcome         text,
    acknowledged_at timestamptz,          -- the first acknowledgement of its alerts
    intervened_at   timestamptz,          -- the first entry into intervention
    PRIMARY KEY (generation, case_id)
);
CREATE INDEX cases_opened ON cases (generation, opened_at);
CREATE INDEX cases_state ON cases (generation, state) WHERE state <> 'closed';

CREATE TABLE referrals (
    generation   integer     NOT NULL,
    referral_id  text        NOT NULL,
    case_id      text        NOT NULL,
    campus_id    text        NOT NULL,
    student_ref  text        NOT NULL,
    status       text        NOT NULL,
    version      integer     NOT NULL,
    made_at      timestamptz,
    answered_at  timestamptz,
    returned_at  timestamptz,
    PRIMARY KEY (generation, referral_id)
);
CREATE INDEX referrals_case ON referrals (generation, case_id);

CREATE TABLE follow_ups (
    generation    integer     NOT NULL,
    follow_up_id  text        NOT NULL,
    case_id       text        NOT NULL,
    campus_id     text        NOT NULL,
    student_ref   text        NOT NULL,
    status        text        NOT NULL,
    version       integer     NOT NULL,
    due_at        timestamptz NOT NULL,
    scheduled_at  timestamptz,
    completed_at  timestamptz,
    finding       text,
    PRIMARY KEY (generation, follow_up_id)
);
CREATE INDEX follow_ups_case ON follow_ups (generation, case_id);
CREATE INDEX follow_ups_completed ON follow_ups (generation, completed_at);

-- A student's college, from the directory (only `college` and `active` are kept).
CREATE TABLE students (
    generation   integer     NOT NULL,
    campus_id    text        NOT NULL,
    student_ref  text        NOT NULL,
    college      text,
    active       boolean     NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (generation, campus_id, student_ref)
);

CREATE TABLE notifications (
    generation        integer     NOT NULL,
    notification_id   text        NOT NULL,
    campus_id         text        NOT NULL,
    student_ref       text        NOT NULL,
    channel           text        NOT NULL,
    recipient_kind    text        NOT NULL,
    source_event_type text        NOT NULL,
    alert_id          text,
    outcome           text        NOT NULL CHECK (outcome IN ('delivered', 'failed')),
    created_at        timestamptz NOT NULL,
    finished_at       timestamptz NOT NULL,
    reason            text,
    PRIMARY KEY (generation, notification_id)
);
CREATE INDEX notifications_created ON notifications (generation, created_at);
