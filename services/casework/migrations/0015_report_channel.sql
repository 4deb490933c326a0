-- depends: 0014_reports_after_erasure
-- How the reporter learned of what a report says (`ReportSubmitted.channel`, the contracts'
-- `ReportChannel`): seen or heard (`observed`), the student asked for help (`self_referral`),
-- a family member called (`family_call`), found in a counseling session
-- (`counseling_session`). Every report filed before this migration came from an intake that
-- had no such field, and the contract reads a missing channel as `observed`: so are they.
--
-- A structured fact like the signals, not free text: the erasures (0009, 0010, 0014) leave it
-- as they leave the signals, and readers of structured facts only see it.
--
-- The CHECK holds the values of ReportChannel. A channel added to the contracts needs a
-- migration that widens it before casework reads it; until then such a report is refused by
-- the table and dead-lettered with the reason, not filed under a value nobody can read
-- (tests/integration/test_file_consumers.py files one report of every ReportChannel value).

ALTER TABLE file_reports
    ADD COLUMN channel text NOT NULL DEFAULT 'observed'
    CONSTRAINT file_reports_channel CHECK (
        channel IN ('observed', 'self_referral', 'family_call', 'counseling_session')
    );
