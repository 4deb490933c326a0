-- depends: 0015_contact_import_records
-- Every student casework's directory has named at the campus (on the roster, with someone
-- responsible or nobody yet, or as having left it), so that family contacts imported under a
-- 学号 the directory never names (a mistyped number) end NOTIFY_FAMILY_CONTACTS_UNNAMED_DAYS
-- after their import (PIPL Art. 19; docs/retention.md): the import's warning says so. Before
-- this table, notify kept only who is responsible and who left: a student on the roster with
-- nobody responsible was named nowhere. Backfilled from both (every campus: row-level security
-- holds the owner too; the setting lasts as long as the migration's transaction).
CREATE TABLE students_named (
    campus_id    text        NOT NULL,
    student_ref  text        NOT NULL,
    named_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campus_id, student_ref)
);
CREATE INDEX students_named_since ON students_named (campus_id, named_at);
ALTER TABLE students_named ENABLE ROW LEVEL SECURITY;
ALTER TABLE students_named FORCE ROW LEVEL SECURITY;
CREATE POLICY campus_isolation ON students_named
    USING (campus_id = current_setting('shouwang.campus_id', true)
           OR current_setting('shouwang.all_campuses', true) = 'on')
    WITH CHECK (campus_id = current_setting('shouwang.campus_id', true)
           OR current_setting('shouwang.all_campuses', true) = 'on');

SELECT set_config('shouwang.all_campuses', 'on', true);
INSERT INTO students_named (campus_id, student_ref)
    SELECT campus_id, student_ref FROM responsible
    UNION SELECT campus_id, student_ref FROM students_left
ON CONFLICT DO NOTHING;
