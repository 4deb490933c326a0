-- depends: 0003_processed_age
-- Break-the-glass reasons and review notes are free text about a student in crisis: sealed
-- with NoteCipher like every other free text (bound to campus and student), never stored in
-- the clear, and kept out of the audit log's own `reason` column. Grants made before this
-- keep their plaintext `reason` (readable as before); new ones leave it NULL.
ALTER TABLE break_glass_grants ADD COLUMN sealed_reason jsonb;
ALTER TABLE break_glass_grants ADD COLUMN sealed_review_note jsonb;
ALTER TABLE break_glass_grants ALTER COLUMN reason DROP NOT NULL;
ALTER TABLE break_glass_grants DROP CONSTRAINT IF EXISTS break_glass_grants_reason_check;
ALTER TABLE break_glass_grants ADD CONSTRAINT break_glass_reason_kept
    CHECK (reason IS NOT NULL OR sealed_reason IS NOT NULL);
-- The cap per person per day counts a person's grants of the last day.
CREATE INDEX break_glass_by_person ON break_glass_grants (campus_id, person_ref, granted_at);
