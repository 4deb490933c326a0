-- depends: 0006_students_left
-- Oversight notices grouped per person (domain/routing.py, `grouped`): when a person's current
-- window opened. The first notice of a window goes at once; the ones after it, until the window
-- ends, wait in `bundle_items` (kind 'informed') and go together. Rows hold a staff reference
-- and a time only; the retention chore deletes windows long ended.
CREATE TABLE informed_windows (
    campus_id   text        NOT NULL,
    person_ref  text        NOT NULL,
    opened_at   timestamptz NOT NULL,
    PRIMARY KEY (campus_id, person_ref)
);
CREATE INDEX informed_windows_age ON informed_windows (opened_at);
ALTER TABLE informed_windows ENABLE ROW LEVEL SECURITY;
ALTER TABLE informed_windows FORCE ROW LEVEL SECURITY;
CREATE POLICY campus_isolation ON informed_windows
    USING (campus_id = current_setting('shouwang.campus_id', true)
           OR current_setting('shouwang.all_campuses', true) = 'on')
    WITH CHECK (campus_id = current_setting('shouwang.campus_id', true)
           OR current_setting('shouwang.all_campuses', true) = 'on');

ALTER TABLE bundle_items DROP CONSTRAINT bundle_items_kind_check;
ALTER TABLE bundle_items ADD CONSTRAINT bundle_items_kind_check
    CHECK (kind IN ('digest', 'case', 'informed'));
