-- Sign-in for /mcp (OAuth 2.1, jira-action as the authorization server):
-- clients that registered themselves, authorizations in progress, the
-- grants people gave, and each grant's codes and tokens. Codes and tokens
-- are kept only as SHA-256 hashes (hex), so a copy of the store signs
-- nobody in; every process sharing the store accepts and revokes them at
-- once. Times are Unix milliseconds.
CREATE TABLE signin_clients (
    client_id     TEXT PRIMARY KEY,
    name          TEXT,
    redirect_uris TEXT NOT NULL,      -- JSON array of strings
    created_at    BIGINT NOT NULL
);
-- From `authorize` to the consent: the client's request, then (after the
-- upstream sign-in) the person and the consent form's CSRF token (hashed).
CREATE TABLE signin_requests (
    id             TEXT PRIMARY KEY,  -- hash of the state sent upstream
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    state          TEXT,
    code_challenge TEXT NOT NULL,
    resource       TEXT NOT NULL,
    account_id     TEXT,
    email          TEXT,
    name           TEXT,
    csrf           TEXT,
    expires_at     BIGINT NOT NULL,
    done           BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE signin_grants (
    id           TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    email        TEXT NOT NULL,
    name         TEXT,
    resource     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX signin_grants_email ON signin_grants (email);
CREATE TABLE signin_codes (
    hash           TEXT PRIMARY KEY,
    grant_id       TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);
CREATE TABLE signin_tokens (
    hash       TEXT PRIMARY KEY,
    grant_id   TEXT NOT NULL,
    kind       TEXT NOT NULL,         -- 'access' or 'refresh'
    expires_at BIGINT NOT NULL,
    used_at    BIGINT                 -- a refresh token: when it was rotated
);
CREATE INDEX signin_tokens_grant ON signin_tokens (grant_id);
