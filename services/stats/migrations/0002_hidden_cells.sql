-- The figures each year has hidden so far, per family of the spine (domain/linked.py): every
-- later decision of that year hides them again, so that the same year asked on two days
-- cannot be subtracted to recover a small cell.
--
-- Not part of a generation: a rebuild replays the events, but what was published (and so
-- hidden) on earlier days does not follow from them, so these rows outlive every rebuild.
-- A cell is its unit and column as JSON, [campus, college, column] with null for "all":
-- campus and college names only, nothing about a person.

CREATE TABLE hidden_cells (
    year      integer     NOT NULL,
    family    text        NOT NULL,
    cell      text        NOT NULL,
    hidden_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (year, family, cell)
);
