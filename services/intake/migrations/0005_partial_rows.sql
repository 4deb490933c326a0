-- depends: 0004_batch_heartbeat
-- A census row with blanks or unreadable cells is still published, flagged incomplete, and
-- graded on what it does say; its defects are listed all the same. `graded` tells those
-- defects from the ones that rejected their row.
ALTER TABLE census_row_errors ADD COLUMN graded boolean NOT NULL DEFAULT false;
ALTER TABLE census_batches ADD COLUMN rows_incomplete integer NOT NULL DEFAULT 0;
