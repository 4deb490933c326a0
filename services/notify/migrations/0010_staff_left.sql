-- depends: 0009_pending_erasures
-- Since when a staff member has been off casework's staff roster (`staff.listing_changed`
-- with `listed = false`, at its `changed_at`), so that their contact addresses end
-- NOTIFY_STAFF_CONTACTS_AFTER_LEAVING_DAYS later (PIPL Art. 19, 47; docs/retention.md, "Staff
-- who left"). Someone listed again is deleted from it, and keeps their contacts. People never
-- on the roster (the on-duty line, a leader's office) are never here: their contacts stay.
-- `contacts_erased_at`: when the chore last deleted contacts of theirs.
CREATE TABLE staff_left (
    campus_id            text        NOT NULL,
    person_ref           text        NOT NULL,
    left_at              timestamptz NOT NULL,
    contacts_erased_at   timestamptz,
    PRIMARY KEY (campus_id, person_ref)
);
CREATE INDEX staff_left_since ON staff_left (left_at);
ALTER TABLE staff_left ENABLE ROW LEVEL SECURITY;
ALTER TABLE staff_left FORCE ROW LEVEL SECURITY;
CREATE POLICY campus_isolation ON staff_left
    USING (campus_id = current_setting('shouwang.campus_id', true)
           OR current_setting('shouwang.all_campuses', true) = 'on')
    WITH CHECK (campus_id = current_setting('shouwang.campus_id', true)
           OR current_setting('shouwang.all_campuses', true) = 'on');
