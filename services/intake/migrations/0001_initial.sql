-- Intake's own state: reporters' receipts, idempotency keys and census batches.
-- Runs as role `intake` with search_path = intake; no other service reads these tables.

CREATE TABLE receipts (
    report_id     uuid PRIMARY KEY,
    campus_id     text        NOT NULL,
    reporter_ref  text        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('report', 'screening')),
    status        text        NOT NULL DEFAULT 'received'
                              CHECK (status IN ('received', 'in_progress', 'closed')),
    case_id       text,
    received_at   timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX receipts_case ON receipts (case_id) WHERE case_id IS NOT NULL;

-- A key is claimed ('pending') before the write and completed after Kafka acknowledged it,
-- so a retry with the same key and body republishes the same event id, never a new one.
CREATE TABLE idempotency_keys (
    campus_id     text        NOT NULL,
    principal_ref text        NOT NULL,
    idem_key      text        NOT NULL,
    fingerprint   bytea       NOT NULL,
    resource_id   uuid        NOT NULL,
    state         text        NOT NULL CHECK (state IN ('pending', 'completed')),
    response      jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campus_id, principal_ref, idem_key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

CREATE TABLE census_batches (
    batch_id          uuid PRIMARY KEY,
    campus_id         text        NOT NULL,
    submitted_by_ref  text        NOT NULL,
    file_sha256       text        NOT NULL,
    status            text        NOT NULL
                                  CHECK (status IN ('processing', 'completed', 'failed')),
    rows_total        integer     NOT NULL DEFAULT 0,
    rows_accepted     integer     NOT NULL DEFAULT 0,
    rows_rejected     integer     NOT NULL DEFAULT 0,
    failure           text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    completed_at      timestamptz
);

CREATE TABLE census_row_errors (
    batch_id    uuid    NOT NULL REFERENCES census_batches (batch_id) ON DELETE CASCADE,
    row_number  integer NOT NULL,
    field       text    NOT NULL,
    code        text    NOT NULL,
    message     text    NOT NULL,
    message_en  text    NOT NULL,
    PRIMARY KEY (batch_id, row_number, field)
);

-- Events consumed from other services (case events → receipt status), once each.
CREATE TABLE processed_events (
    event_id     text PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
);
