-- depends: 0003_clinical_safety
-- No repeat alerts for what an owner already holds: an acknowledged alert remembers the case
-- its acknowledgement named and what it covered (each reason's kind at its highest level, and
-- the reports and sheets its grade rested on), and is `held` — it covers later grades no graver
-- than itself — until that case closes or a newer alert supersedes it (named in superseded_by;
-- the alert keeps status 'acknowledged': it was owned).
ALTER TABLE alerts
    ADD COLUMN case_id          text,
    ADD COLUMN covers           jsonb   NOT NULL DEFAULT '{}',
    ADD COLUMN covered_evidence text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN held             boolean NOT NULL DEFAULT false;

-- Alerts acknowledged before this migration named no kinds: they cover what had arrived about
-- the student by the time they were raised, and hold unless a case closed since.
UPDATE alerts a
   SET covered_evidence = ARRAY(
           SELECT e.evidence_id FROM evidence e
            WHERE e.campus_id = a.campus_id AND e.student_ref = a.student_ref
              AND e.received_at <= a.raised_at),
       held = NOT EXISTS (
           SELECT 1 FROM closed_cases c
            WHERE c.campus_id = a.campus_id AND c.student_ref = a.student_ref
              AND c.closed_at >= a.acknowledged_at)
 WHERE a.status = 'acknowledged';

-- Read with every graded batch: only the students someone holds now.
CREATE INDEX alerts_held ON alerts (campus_id, student_ref) WHERE held;
