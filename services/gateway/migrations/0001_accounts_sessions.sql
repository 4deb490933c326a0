-- The gateway's own state: local accounts (pilot sign-in), browser sessions, failed sign-in
-- attempts (for rate limiting across replicas) and OIDC sign-ins in flight.
-- Runs as role `gateway` with search_path = gateway.

-- Local accounts. The password is stored only as an argon2id hash; `sub` is the number the
-- roster knows the person by (工号/学号), so the services' scope checks find them.
CREATE TABLE accounts (
    campus_id      text        NOT NULL,
    username       text        NOT NULL,
    password_hash  text        NOT NULL,
    sub            text        NOT NULL,
    role           text        NOT NULL,
    scope          text[]      NOT NULL DEFAULT '{}',
    display_name   text        NOT NULL DEFAULT '',
    disabled       boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campus_id, username)
);

-- Sessions, keyed by the SHA-256 of the cookie's value: a copy of this table opens no session.
CREATE TABLE sessions (
    id_hash        bytea       PRIMARY KEY,
    campus_id      text        NOT NULL,
    sub            text        NOT NULL,
    role           text        NOT NULL,
    scope          text[]      NOT NULL DEFAULT '{}',
    display_name   text        NOT NULL DEFAULT '',
    method         text        NOT NULL CHECK (method IN ('local', 'oidc')),
    csrf_token     text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- One row per failed sign-in, by what was tried (account) and from where (client address).
CREATE TABLE signin_failures (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key       text        NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX signin_failures_key ON signin_failures (key, at);

-- An OIDC sign-in between the redirect to the identity provider and its return: the PKCE
-- verifier and nonce never leave the gateway.
CREATE TABLE oidc_pending (
    state          text        PRIMARY KEY,
    code_verifier  text        NOT NULL,
    nonce          text        NOT NULL,
    return_to      text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
