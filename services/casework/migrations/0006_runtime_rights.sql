-- depends: 0005_sealed_break_glass
-- The service runs as its runtime role (the schema's name), which the owner's default
-- privileges let read and write rows (tools/devstack: provision.py). The append-only records
-- take back what they never allow: the audit log and a case's history are INSERT and SELECT
-- only, for the service as for anyone (their triggers refuse even the owner).
DO $$
BEGIN
    EXECUTE format(
        'REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, case_history FROM %I', current_schema()
    );
END;
$$;
