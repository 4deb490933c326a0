-- depends: 0008_person_limits
-- A student's erasure on request (docs/retention.md, "Erasure on request"): when casework
-- erased them, per campus and pseudonymous student_ref, and nothing else. A report or census
-- row received before `erased_at` but graded after triage applied the erasure (its consumer
-- behind, a retried batch) is graded, then neither its evidence nor a grade resting on it is
-- kept. A mark lasts only while such a record can still arrive: the input topics' retention
-- plus a margin (TRIAGE_ERASURE_MARK_DAYS); housekeeping deletes it then, by this index.
CREATE TABLE erasure_marks (
    campus_id   text        NOT NULL,
    student_ref text        NOT NULL,
    erased_at   timestamptz NOT NULL,
    PRIMARY KEY (campus_id, student_ref)
);
CREATE INDEX erasure_marks_age ON erasure_marks (erased_at);
