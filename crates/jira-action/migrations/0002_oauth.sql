-- The OAuth 2.0 (3LO) connection the server holds in `auth = "oauth"` mode:
-- one row, shared by every process on this store. Tokens are sealed with
-- AES-256-GCM (key from JIRA_ACTION_TOKEN_KEY); the lease makes one process
-- at a time refresh them, since refresh tokens rotate.
CREATE TABLE oauth_tokens (
    id            TEXT PRIMARY KEY,   -- 'jira'
    site_url      TEXT NOT NULL,
    cloud_id      TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    access_token  TEXT NOT NULL,      -- sealed
    refresh_token TEXT,               -- sealed; NULL without offline_access
    expires_at    BIGINT NOT NULL,    -- the access token's expiry, Unix ms
    refreshed_at  BIGINT NOT NULL,    -- when the tokens were last obtained
    status        TEXT NOT NULL,      -- 'ok' or 'reconsent_needed'
    lease_holder  TEXT,               -- the process refreshing now, if any
    lease_until   BIGINT NOT NULL
);
