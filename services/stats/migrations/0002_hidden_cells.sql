-- The figures each year has hidden so far, per family (a family of the spine, domain/linked.py,
-- or one campus breakdown's table, service_layer/kept.py): every later decision of that year
-- hides them again, so that the same year asked on two days cannot be subtracted to recover
-- a small cell.
--
-- Not part of a generation: a rebuild replays the events, but what was published (and so
-- hidden) on earlier days does not follow from them, so these rows outlive every rebuild.
-- A cell is its key as JSON: [[campus, college], column] with null for "all" in the spine,
-- ["cell", row, column], ["row", row], ["col", column] or ["all"] in a table. Campus,
-- college, month, tier or status names only, nothing about a person.

CREATE TABLE hidden_cells (
    year      integer     NOT NULL,
    family    text        NOT NULL,
    cell      text        NOT NULL,
    hidden_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (year, family, cell)
);
