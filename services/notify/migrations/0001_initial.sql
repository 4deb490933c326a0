-- Notify's own data: contacts (sealed), what it knows of students, cases and consent, the
-- delivery queue, digests and case notices waiting to be bundled, acknowledgement links, the
-- outbox of notification events and consumer idempotency.
-- Runs as role `notify` with search_path = notify.
-- Contact details are stored only as NoteCipher ciphertext bound to campus and person/student;
-- no table holds a name or address in clear. Row-level security (FORCE) holds HTTP requests to
-- their campus; the background workers, which serve every campus, say so per transaction.

CREATE TABLE staff_contacts (
    campus_id    text        NOT NULL,
    person_ref   text        NOT NULL,           -- 'on_duty' for the campus's 值班 line
    sealed       jsonb       NOT NULL,           -- EncryptedText of the addresses
    channels     text[]      NOT NULL,           -- channels with an address (not the address)
    preferred    text,
    quiet_start  time,
    quiet_end    time,
    language     text        NOT NULL DEFAULT 'zh-CN',
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campus_id, person_ref)
);

CREATE TABLE family_contacts (
    campus_id    text        NOT NULL,
    student_ref  text        NOT NULL,
    rank         int         NOT NULL,           -- the import's order: the first is tried first
    relation     text        NOT NULL,
    sealed       jsonb       NOT NULL,           -- EncryptedText of name and addresses
    channels     text[]      NOT NULL,
    language     text        NOT NULL DEFAULT 'zh-CN',
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campus_id, student_ref, rank)
);

-- Each file imported: the same bytes imported again answer the first result (idempotent).
CREATE TABLE contact_imports (
    import_id     uuid        PRIMARY KEY,
    campus_id     text        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('staff', 'family')),
    sha256        text        NOT NULL,
    rows_total    int         NOT NULL,
    imported_by   text        NOT NULL,          -- person_ref
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campus_id, kind, sha256)
);

-- Who holds which role for a student (the directory stream), by pseudonym only.
CREATE TABLE responsible (
    campus_id    text NOT NULL,
    student_ref  text NOT NULL,
    role         text NOT NULL,
    person_ref   text NOT NULL,
    PRIMARY KEY (campus_id, student_ref, role, person_ref)
);

-- Cases as their public events tell them, with the family-contact decision of each.
CREATE TABLE cases (
    campus_id      text        NOT NULL,
    case_id        text        PRIMARY KEY,
    student_ref    text        NOT NULL,
    severity       text,
    owner_ref      text,
    owner_role     text,
    closed_at      timestamptz,
    consent        text CHECK (consent IN ('given', 'withdrawn', 'declined', 'overridden')),
    consent_at     timestamptz,
    family_told    text,                          -- the highest severity the family was told of
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_open_by_student ON cases (campus_id, student_ref) WHERE closed_at IS NULL;

CREATE TABLE campus_settings (
    campus_id    text        PRIMARY KEY,
    digest_hour  int         NOT NULL CHECK (digest_hour BETWEEN 0 AND 23),
    updated_by   text        NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The delivery queue: one row per (event, recipient, channel), so a redelivered event or a
-- second replica cannot queue the same message twice. Workers claim due rows with
-- FOR UPDATE SKIP LOCKED and hold them under a lease; a worker killed mid-send leaves its
-- rows to be claimed again when the lease runs out.
CREATE TABLE deliveries (
    id                 bigserial   PRIMARY KEY,
    notification_id    uuid        NOT NULL UNIQUE,
    campus_id          text        NOT NULL,
    source_event_id    text        NOT NULL,
    source_event_type  text        NOT NULL,
    source_time        timestamptz NOT NULL,      -- when the source event happened
    alert_id           text,
    case_id            text,
    student_ref        text        NOT NULL,
    recipient_kind     text        NOT NULL CHECK (recipient_kind IN ('staff', 'family', 'on_duty')),
    recipient_ref      text        NOT NULL,      -- person_ref, 'on_duty', or student_ref#rank
    recipient_role     text,
    channel            text        NOT NULL,
    template           text        NOT NULL,
    language           text        NOT NULL,
    context            jsonb       NOT NULL,      -- grades, roles, deadlines, link ids: no personal data
    priority           int         NOT NULL,      -- 0 = critical first
    status             text        NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled', 'call_task')),
    attempts           int         NOT NULL DEFAULT 0,
    not_before         timestamptz NOT NULL,
    lease_until        timestamptz,
    last_error         text,                      -- a code, never a server's message
    created_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz,
    UNIQUE (source_event_id, recipient_ref, channel)
);
CREATE INDEX deliveries_due ON deliveries (priority, not_before) WHERE status = 'pending';
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE status = 'sending';
CREATE INDEX deliveries_by_alert ON deliveries (campus_id, alert_id);
CREATE INDEX deliveries_log ON deliveries (campus_id, created_at DESC);

-- Someone had to be reached and could not be: no contact on file, nobody holds the role.
CREATE TABLE unreached (
    id               bigserial   PRIMARY KEY,
    campus_id        text        NOT NULL,
    source_event_id  text        NOT NULL,
    alert_id         text,
    student_ref      text        NOT NULL,
    recipient_kind   text        NOT NULL,
    recipient_role   text,
    recipient_ref    text,
    reason           text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_event_id, recipient_kind, recipient_role, recipient_ref, reason)
);

-- Mild warnings for the daily digest and case notices to batch, per person, until bundled.
CREATE TABLE bundle_items (
    id               bigserial   PRIMARY KEY,
    campus_id        text        NOT NULL,
    person_ref       text        NOT NULL,
    role             text        NOT NULL,
    kind             text        NOT NULL CHECK (kind IN ('digest', 'case')),
    item             jsonb       NOT NULL,
    source_event_id  text        NOT NULL,
    student_ref      text        NOT NULL,
    source_time      timestamptz NOT NULL,
    due_at           timestamptz NOT NULL,
    bundled_at       timestamptz,
    UNIQUE (source_event_id, person_ref, kind, item)
);
CREATE INDEX bundle_items_due ON bundle_items (due_at) WHERE bundled_at IS NULL;

-- Acknowledgement links: signed in the message, single use, bound to alert and person.
CREATE TABLE ack_links (
    link_id      uuid        PRIMARY KEY,
    campus_id    text        NOT NULL,
    alert_id     text        NOT NULL,
    student_ref  text        NOT NULL,
    person_ref   text        NOT NULL,
    role         text        NOT NULL,
    severity     text        NOT NULL,           -- what the page says is asked, and by when
    ack_deadline timestamptz NOT NULL,
    short_code   text        NOT NULL UNIQUE,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (alert_id, person_ref)
);

-- Alerts someone acknowledged (casework's alert.acknowledged): their links stop working.
CREATE TABLE alerts_acknowledged (
    alert_id         text        PRIMARY KEY,
    campus_id        text        NOT NULL,
    acknowledged_at  timestamptz NOT NULL
);

-- The first message of each alert that a channel accepted (for the alert-to-delivery metric:
-- exactly one row per alert, however many workers send its messages at once).
CREATE TABLE alerts_first_delivered (
    alert_id      text        PRIMARY KEY,
    campus_id     text        NOT NULL,
    delivered_at  timestamptz NOT NULL
);

-- Notification events, written with the state change and relayed in id order.
CREATE TABLE outbox (
    id            bigserial   PRIMARY KEY,
    campus_id     text        NOT NULL,
    event_id      uuid        NOT NULL UNIQUE,
    topic         text        NOT NULL,
    key           bytea       NOT NULL,
    payload       bytea       NOT NULL,
    headers       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE processed_events (
    consumer      text        NOT NULL,
    event_id      text        NOT NULL,
    campus_id     text        NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX processed_events_age ON processed_events (processed_at);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['staff_contacts', 'family_contacts', 'contact_imports',
                             'responsible', 'cases', 'campus_settings', 'deliveries',
                             'alerts_first_delivered',
                             'unreached', 'bundle_items', 'ack_links', 'alerts_acknowledged',
                             'outbox', 'processed_events']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY campus_isolation ON %I '
            'USING (campus_id = current_setting(''shouwang.campus_id'', true) '
            '       OR current_setting(''shouwang.all_campuses'', true) = ''on'') '
            'WITH CHECK (campus_id = current_setting(''shouwang.campus_id'', true) '
            '       OR current_setting(''shouwang.all_campuses'', true) = ''on'')', t);
    END LOOP;
END;
$$;
