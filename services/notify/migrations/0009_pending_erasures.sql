-- depends: 0008_informed_windows
-- An erasure on request (`student.erased`) that arrived while a case of the student was open
-- here keeps the family contacts (a crisis still may need the family) and waits in this table
-- until the student's last open case closes; the case-closed event then completes it, once,
-- in its own transaction (PIPL Art. 47; docs/retention.md, "Erasure on request"). A row, not
-- memory: a restart between the two events loses nothing. `erased_at` is the latest erasure's
-- time (what was held up to then goes); the row is deleted when the erasure completes.
CREATE TABLE pending_erasures (
    campus_id    text        NOT NULL,
    student_ref  text        NOT NULL,
    event_id     text        NOT NULL,
    erased_at    timestamptz NOT NULL,
    deferred_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campus_id, student_ref)
);
ALTER TABLE pending_erasures ENABLE ROW LEVEL SECURITY;
ALTER TABLE pending_erasures FORCE ROW LEVEL SECURITY;
CREATE POLICY campus_isolation ON pending_erasures
    USING (campus_id = current_setting('shouwang.campus_id', true)
           OR current_setting('shouwang.all_campuses', true) = 'on')
    WITH CHECK (campus_id = current_setting('shouwang.campus_id', true)
           OR current_setting('shouwang.all_campuses', true) = 'on');
