-- depends: 0004_grade_reads 0004_held_alerts
-- The directory stream (shouwang.directory.v2) carries the college and keyed hashes of the
-- finer placement, no longer class, building, floor or room in the clear: triage keeps what
-- it gets, and forgets the placements in the clear that the retired v1 stream left here.
ALTER TABLE placements ADD COLUMN placement_refs text[] NOT NULL DEFAULT '{}';
UPDATE placements SET class_name = NULL, building = NULL, floor = NULL, room = NULL;
