-- depends: 0003_clinical_safety
-- No repeat alerts for what an owner already holds: an acknowledged alert remembers the case
-- its acknowledgement named and what it covered (each reason's kind at its highest level), and
-- covers later grades no graver than itself until that case closes or a newer alert supersedes
-- it. A superseded acknowledged alert keeps status 'acknowledged' (it was owned) and names the
-- newer alert in superseded_by; alerts acknowledged before this migration cover nothing by
-- kind, only what earlier inputs already held up.
ALTER TABLE alerts
    ADD COLUMN case_id text,
    ADD COLUMN covers  jsonb NOT NULL DEFAULT '{}';

CREATE INDEX alerts_held ON alerts (campus_id, student_ref)
    WHERE status = 'acknowledged' AND superseded_by IS NULL;
