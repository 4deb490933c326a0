-- depends: 0002_hidden_cells
-- Per-person limits that hold across stats' replicas (shouwang_servicekit.sharedlimits):
-- one row per person and limit, the time their next request is due (epoch seconds, on the
-- database's clock). A person is a keyed hash of their campus and subject (keyed by
-- STATS_PERSON_LIMITS_KEY), never their number. UNLOGGED: the limits need no crash safety
-- (after a crash everyone starts afresh) and a request's count writes no WAL. No row-level
-- security: no campus data is kept.
CREATE UNLOGGED TABLE person_limits (
    person bytea NOT NULL,
    limit_name text NOT NULL,
    due double precision NOT NULL,
    PRIMARY KEY (person, limit_name)
);
