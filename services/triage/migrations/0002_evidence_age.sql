-- depends: 0001_initial
-- Housekeeping deletes evidence older than every window each 15 s; without this index each
-- pass read the whole table.
CREATE INDEX evidence_age ON evidence (received_at);
