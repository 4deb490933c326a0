-- depends: 0005_partial_rows 0005_receipts_by_reporter
-- Erasure on request (PIPL Art. 47; docs/retention.md): a receipt names the student it is
-- about by pseudonym, so that `student.erased` finds every receipt of the student, those of
-- reports that never became a case too. Written at submission; receipts older than this
-- migration learn it from the case events that name them (`case_id` is set the same way).
ALTER TABLE receipts ADD COLUMN student_ref text;
CREATE INDEX receipts_by_student ON receipts (campus_id, student_ref) WHERE student_ref IS NOT NULL;
