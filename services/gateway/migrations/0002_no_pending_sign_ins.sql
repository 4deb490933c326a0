-- depends: 0001_accounts_sessions
-- OIDC sign-ins in flight travel in the browser's sealed cookie (adapters/pending.py): a row
-- per anonymous /auth/oidc/start let a flood fill this table.
DROP TABLE oidc_pending;
