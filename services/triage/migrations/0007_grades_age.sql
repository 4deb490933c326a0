-- depends: 0006_outbox_notify
-- Grades end with their evidence (PIPL Art. 19; docs/retention.md): housekeeping deletes a
-- grade graded before every policy window, the oldest first, in batches, unless the student
-- has an open alert or an acknowledged alert whose case is still open. This index keeps
-- each batch from reading the whole table.
CREATE INDEX grades_age ON grades (graded_at);
