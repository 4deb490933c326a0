-- depends: 0009_erasure_marks
-- How a report's reporter learned of it (`ReportSubmitted.channel`: observed, self_referral,
-- family_call, counseling_session): grading reads it again on every later input in the window
-- (a self-referral grades at least moderate while it counts) and corroboration counts sources
-- by it. NULL for screenings, and for reports stored before this migration, which were all
-- observed (the field's default). Kept with the rest of the row: erased with the evidence.
ALTER TABLE evidence ADD COLUMN channel text;
