-- depends: 0011_audit_list_window
-- transactional: false
-- When a staff roster import takes someone off, the handover finds the scheduled follow-ups
-- they were to make (adapters/roster.py: open_cases_with_follow_ups_of, `assignee_ref =
-- ANY(...) AND status = 'scheduled'`, in the import's transaction). Without an index that is
-- a scan of every follow-up the campus ever had. Only scheduled ones are indexed: done and
-- cancelled follow-ups are never handed over.
--
-- CONCURRENTLY (so outside a transaction, hence `transactional: false`): the build does not
-- stop follow-ups being written. A build that failed leaves an invalid index behind and the
-- migration unapplied; the DROP lets the next run build it again.
DROP INDEX CONCURRENTLY IF EXISTS follow_ups_assignee;
CREATE INDEX CONCURRENTLY follow_ups_assignee ON follow_ups (campus_id, assignee_ref)
    WHERE status = 'scheduled';
