-- Cases and their closed loop, the outbox of public case events, and consumer idempotency.
-- Runs as role `casework` with search_path = casework.
-- Every table carries campus_id and is held to it by row-level security (FORCE, so the owning
-- role too); a connection that has not set `shouwang.campus_id` sees no rows.
-- Free text (notes, what was done, override reasons) is stored only as NoteCipher ciphertext.
-- depends: 0001_roster_audit

-- Public events, written in the transaction of the state change and relayed in id order.
CREATE TABLE outbox (
    id            bigserial   PRIMARY KEY,
    campus_id     text        NOT NULL,
    event_id      uuid        NOT NULL UNIQUE,
    topic         text        NOT NULL,
    key           bytea       NOT NULL,
    payload       bytea       NOT NULL,      -- the envelope's exact JSON bytes
    headers       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Events a consumer has applied; claimed in the same transaction as the effects.
CREATE TABLE processed_events (
    consumer      text        NOT NULL,
    event_id      text        NOT NULL,
    campus_id     text        NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE cases (
    case_id         uuid        PRIMARY KEY,
    campus_id       text        NOT NULL,
    student_ref     text        NOT NULL,
    state           text        NOT NULL CHECK (state IN ('open', 'monitoring', 'intervention',
                                    'referred', 'aftercare', 'follow_up', 'closed')),
    severity        text        NOT NULL CHECK (severity IN ('mild', 'moderate', 'severe', 'critical')),
    severity_rank   smallint    NOT NULL,
    owner_ref       text,
    owner_role      text        NOT NULL,
    outcome         text        CHECK (outcome IN ('relieved', 'stable', 'transferred', 'left_school')),
    report_ids      text[]      NOT NULL DEFAULT '{}',
    opened_at       timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    closed_at       timestamptz,
    version         integer     NOT NULL DEFAULT 1,
    CHECK ((state = 'closed') = (closed_at IS NOT NULL AND outcome IS NOT NULL))
);
-- One active case per student: new assessments attach to it instead of opening another.
CREATE UNIQUE INDEX cases_one_active ON cases (campus_id, student_ref) WHERE state <> 'closed';
CREATE INDEX cases_queue ON cases (campus_id, severity_rank DESC, opened_at) WHERE state <> 'closed';
CREATE INDEX cases_student ON cases (campus_id, student_ref);

-- Immutable: every change to a case, with actor and time. UPDATE/DELETE are refused.
CREATE TABLE case_history (
    id            bigserial   PRIMARY KEY,
    campus_id     text        NOT NULL,
    case_id       uuid        NOT NULL REFERENCES cases (case_id),
    seq           integer     NOT NULL,
    kind          text        NOT NULL,
    from_state    text,
    to_state      text,
    actor_ref     text        NOT NULL,
    actor_role    text        NOT NULL,
    detail        jsonb       NOT NULL DEFAULT '{}'::jsonb,   -- structured fields only
    sealed_text   jsonb,                                      -- EncryptedText, if any
    at            timestamptz NOT NULL,
    UNIQUE (case_id, seq)
);

CREATE FUNCTION case_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_history is append-only';
END;
$$;
CREATE TRIGGER case_history_no_update BEFORE UPDATE OR DELETE ON case_history
    FOR EACH ROW EXECUTE FUNCTION case_history_append_only();

-- Assessments attached to a case (new ones can raise its severity).
CREATE TABLE case_assessments (
    assessment_id  text        PRIMARY KEY,
    campus_id      text        NOT NULL,
    case_id        uuid        NOT NULL REFERENCES cases (case_id),
    severity       text        NOT NULL,
    report_ids     text[]      NOT NULL DEFAULT '{}',
    graded_at      timestamptz NOT NULL,
    attached_at    timestamptz NOT NULL
);
CREATE INDEX case_assessments_case ON case_assessments (case_id);

CREATE TABLE alerts (
    alert_id              text        PRIMARY KEY,
    campus_id             text        NOT NULL,
    case_id               uuid        NOT NULL REFERENCES cases (case_id),
    student_ref           text        NOT NULL,
    assessment_id         text        NOT NULL,
    severity              text        NOT NULL,
    owner_role            text        NOT NULL,
    ack_deadline          timestamptz NOT NULL,
    escalation_level      integer     NOT NULL DEFAULT 0,
    raised_at             timestamptz NOT NULL,
    acknowledged_at       timestamptz,
    acknowledged_by_ref   text,
    acknowledged_by_role  text
);
CREATE INDEX alerts_case ON alerts (case_id);
CREATE INDEX alerts_open ON alerts (campus_id, ack_deadline) WHERE acknowledged_at IS NULL;

-- Referral (转介) as its own loop: destination, consent, status until the student returns.
CREATE TABLE referrals (
    referral_id        uuid        PRIMARY KEY,
    campus_id          text        NOT NULL,
    case_id            uuid        NOT NULL REFERENCES cases (case_id),
    destination_type   text        NOT NULL CHECK (destination_type IN
                                       ('hospital', 'psychiatric_service', 'outside_counselor')),
    destination        text        NOT NULL,
    status             text        NOT NULL CHECK (status IN ('pending', 'accepted',
                                       'not_accepted', 'returned', 'referred_again')),
    consent            text        NOT NULL CHECK (consent IN ('given', 'overridden')),
    created_by_ref     text        NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    returned_at        timestamptz,
    version            integer     NOT NULL DEFAULT 1
);
CREATE INDEX referrals_case ON referrals (case_id);

-- Consent decisions (referral, family contact); an override always carries a sealed reason.
CREATE TABLE consents (
    consent_id        uuid        PRIMARY KEY,
    campus_id         text        NOT NULL,
    case_id           uuid        NOT NULL REFERENCES cases (case_id),
    subject           text        NOT NULL CHECK (subject IN ('referral', 'family_contact')),
    decision          text        NOT NULL CHECK (decision IN ('given', 'declined', 'overridden')),
    sealed_reason     jsonb,
    recorded_by_ref   text        NOT NULL,
    recorded_by_role  text        NOT NULL,
    recorded_at       timestamptz NOT NULL,
    CHECK (decision <> 'overridden' OR sealed_reason IS NOT NULL)
);
CREATE INDEX consents_case ON consents (case_id);

-- Follow-ups (回访): set, moved and closed by staff; a missed one reminds once.
CREATE TABLE follow_ups (
    follow_up_id     uuid        PRIMARY KEY,
    campus_id        text        NOT NULL,
    case_id          uuid        NOT NULL REFERENCES cases (case_id),
    purpose          text        NOT NULL CHECK (purpose IN ('routine', 'aftercare', 'referral_return')),
    due_at           timestamptz NOT NULL,
    assignee_ref     text,
    status           text        NOT NULL CHECK (status IN ('scheduled', 'completed', 'cancelled')),
    closed_by_ref    text,
    closed_at        timestamptz,
    sealed_reason    jsonb,
    reminded_at      timestamptz,
    created_by_ref   text        NOT NULL,
    created_at       timestamptz NOT NULL,
    version          integer     NOT NULL DEFAULT 1
);
CREATE INDEX follow_ups_case ON follow_ups (case_id);
CREATE INDEX follow_ups_due ON follow_ups (due_at) WHERE status = 'scheduled' AND reminded_at IS NULL;

-- Notes: ciphertext only, every edit a new version.
CREATE TABLE notes (
    note_id       uuid        NOT NULL,
    version       integer     NOT NULL,
    campus_id     text        NOT NULL,
    case_id       uuid        NOT NULL REFERENCES cases (case_id),
    student_ref   text        NOT NULL,
    author_ref    text        NOT NULL,
    author_role   text        NOT NULL,
    sealed        jsonb       NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (note_id, version)
);
CREATE INDEX notes_case ON notes (case_id);

-- The living plan (策): each change a new version; action descriptions sealed.
CREATE TABLE plans (
    case_id         uuid        NOT NULL REFERENCES cases (case_id),
    version         integer     NOT NULL,
    campus_id       text        NOT NULL,
    actions         jsonb       NOT NULL,
    review_dates    timestamptz[] NOT NULL DEFAULT '{}',
    updated_by_ref  text        NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (case_id, version)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['outbox', 'processed_events', 'cases', 'case_history',
                             'case_assessments', 'alerts', 'referrals', 'consents',
                             'follow_ups', 'notes', 'plans']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY campus_isolation ON %I '
            'USING (campus_id = current_setting(''shouwang.campus_id'', true)) '
            'WITH CHECK (campus_id = current_setting(''shouwang.campus_id'', true))', t);
    END LOOP;
END;
$$;

-- The relay publishes every campus's events in one id order, so it alone may read and mark
-- all outbox rows. The rows hold only public, pseudonymous events.
CREATE POLICY relay_reads_all ON outbox
    USING (current_setting('shouwang.outbox_relay', true) = 'on')
    WITH CHECK (current_setting('shouwang.outbox_relay', true) = 'on');
