-- depends: 0010_erasure_request
-- A listing read (the queue, the awaiting list, the name cards: pages a tab refreshes every
-- 15 s) records each student it shows at most once per reader, role and page within a window
-- (service_layer/access.py: audit_listing). The row of the first showing says how long it
-- stands for the showings that follow it: `covers_seconds`, set when the row is written and
-- never changed (audit_log stays append-only). NULL on every other row: a single read (a case,
-- a file, its history, its notes), a refusal or a break-the-glass is one row per read.
ALTER TABLE audit_log
    ADD COLUMN covers_seconds integer CHECK (covers_seconds IS NULL OR covers_seconds > 0);

-- What a listing read looks up per student shown: has this reader, in this role, seen this
-- student through this page within the window? Only listing rows are indexed.
CREATE INDEX audit_log_listing ON audit_log (campus_id, principal_ref, student_ref, action, at)
    WHERE covers_seconds IS NOT NULL;
