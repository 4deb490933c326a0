-- depends: 0002_evidence_age
-- Partial census sheets: which items a sheet left blank or unreadable and which side fields
-- intake read the riskier way (a sheet is graded on what it does say).
ALTER TABLE evidence
    ADD COLUMN unanswered smallint[] NOT NULL DEFAULT '{}',
    ADD COLUMN unreadable text[]     NOT NULL DEFAULT '{}';

-- What an alert asks besides acknowledging it, whether it rests on an incomplete sheet, and
-- how many times it re-alerted past the top of the ladder (severe and critical never go quiet).
ALTER TABLE alerts
    ADD COLUMN follow_up_tasks  jsonb   NOT NULL DEFAULT '[]',
    ADD COLUMN incomplete_sheet boolean NOT NULL DEFAULT false,
    ADD COLUMN realert_attempt  integer NOT NULL DEFAULT 0;

-- Severe and critical alerts that an earlier version left quiet at the top of the ladder
-- re-alert from the next scheduler pass on: nobody owns them yet.
UPDATE alerts SET climbing = true
 WHERE status = 'open' AND NOT climbing AND severity IN ('severe', 'critical');
