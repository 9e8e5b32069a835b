-- An uncertain claim (a create whose outcome is unknown) is not looked up
-- again before this time (Unix milliseconds): the first create may still be
-- committing in Jira, and Jira's search may not see it yet. A repeat before
-- then is answered 504 jira_outcome_unknown with the time left as
-- Retry-After. NULL: no wait (rows written before this migration).
ALTER TABLE idempotency ADD COLUMN settle_until BIGINT;
