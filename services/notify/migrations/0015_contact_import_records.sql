-- depends: 0014_family_message_settings
-- Every contacts import is recorded, as casework records its roster imports: an applied one
-- (as before), a dry run (`dry_run=true`: what the file would do, nothing written) and one
-- refused for bad rows (nothing written; its errors are counted, never kept: they quote cells).
-- `counts`: rows_total, imported (or would be), warnings, errors, replayed. Listed to the
-- campus admin (`GET /v1/imports`): who (a pseudonym), when, what, counts; no personal data.
-- Only applied imports make a file a replay, so the uniqueness moves to them alone.
ALTER TABLE contact_imports
    ADD COLUMN status text NOT NULL DEFAULT 'applied'
        CHECK (status IN ('applied', 'dry_run', 'rejected')),
    ADD COLUMN counts jsonb NOT NULL DEFAULT '{}'::jsonb;
-- Before: rows_total held the contacts written (every campus's rows: row-level security
-- holds the owner too, and this setting lasts as long as the migration's transaction).
SELECT set_config('shouwang.all_campuses', 'on', true);
UPDATE contact_imports SET counts = jsonb_build_object('imported', rows_total);
ALTER TABLE contact_imports DROP CONSTRAINT contact_imports_campus_id_kind_sha256_key;
CREATE UNIQUE INDEX contact_imports_applied ON contact_imports (campus_id, kind, sha256)
    WHERE status = 'applied';
CREATE INDEX contact_imports_newest ON contact_imports (campus_id, created_at DESC);
