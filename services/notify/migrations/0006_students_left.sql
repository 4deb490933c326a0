-- depends: 0005_retention
-- Since when a student has left (the directory's `active = false`, at its `updated_at`), so
-- that the family contacts of students gone longer than NOTIFY_FAMILY_CONTACTS_AFTER_LEAVING_DAYS
-- end (PIPL Art. 19, 47; docs/retention.md). A student back on the roster is deleted from it.
-- Contacts imported again after they were erased stay: an admin's deliberate act.
CREATE TABLE students_left (
    campus_id            text        NOT NULL,
    student_ref          text        NOT NULL,
    left_at              timestamptz NOT NULL,
    contacts_erased_at   timestamptz,
    PRIMARY KEY (campus_id, student_ref)
);
CREATE INDEX students_left_due ON students_left (left_at) WHERE contacts_erased_at IS NULL;
ALTER TABLE students_left ENABLE ROW LEVEL SECURITY;
ALTER TABLE students_left FORCE ROW LEVEL SECURITY;
CREATE POLICY campus_isolation ON students_left
    USING (campus_id = current_setting('shouwang.campus_id', true)
           OR current_setting('shouwang.all_campuses', true) = 'on')
    WITH CHECK (campus_id = current_setting('shouwang.campus_id', true)
           OR current_setting('shouwang.all_campuses', true) = 'on');
