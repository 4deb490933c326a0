-- depends: 0003_clinical_safety
-- No repeat alerts for what an owner already holds: an acknowledged alert remembers the case
-- its acknowledgement named and what it covered (each reason's kind at its highest level, and
-- the reports and sheets its grade rested on), and covers later grades no graver than itself
-- until that case closes or a newer alert supersedes it. A superseded acknowledged alert keeps
-- status 'acknowledged' (it was owned) and names the newer alert in superseded_by.
ALTER TABLE alerts
    ADD COLUMN case_id          text,
    ADD COLUMN covers           jsonb  NOT NULL DEFAULT '{}',
    ADD COLUMN covered_evidence text[] NOT NULL DEFAULT '{}';

-- Alerts acknowledged before this migration named no kinds; they covered what had arrived
-- about the student by the time they were raised.
UPDATE alerts a
   SET covered_evidence = ARRAY(
           SELECT e.evidence_id FROM evidence e
            WHERE e.campus_id = a.campus_id AND e.student_ref = a.student_ref
              AND e.received_at <= a.raised_at)
 WHERE a.status = 'acknowledged';

CREATE INDEX alerts_held ON alerts (campus_id, student_ref)
    WHERE status = 'acknowledged' AND superseded_by IS NULL;
