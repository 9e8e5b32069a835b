//! The PostgreSQL driver (sqlx): a pool shared by the requests of this
//! process, the database shared with the other processes. Every statement
//! is one round trip in autocommit, except where two writes must land
//! together (a claim's end with its audit record, a grant with its code).

use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::signin::{GRANT_COLUMNS, StoredClient, StoredCode, StoredToken, UsedOnce};
use super::{
    AuditFilter, AuditRecord, Claim, ClaimRequest, Decision, EXISTING_COLUMNS, Existing, Finish,
    OAUTH_ID, StoreError, decide, millis, now_ms,
};
use crate::oauth::{OAuthRow, STATUS_OK};
use crate::signin::rows::{CodeRow, GrantRow, RequestRow, TokenKind};

/// The migrations in `migrations/`, embedded. An applied migration is never
/// edited (sqlx checks its checksum): a schema change is a new file.
pub(in crate::store) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A key's existing row; built once, not on every claim.
static SELECT_EXISTING: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {EXISTING_COLUMNS} FROM idempotency WHERE key = $1"));

/// A sign-in token with its grant: read on every signed-in `/mcp` call.
static SELECT_TOKEN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {GRANT_COLUMNS}, t.expires_at AS token_expires_at, t.used_at AS token_used_at \
         FROM signin_tokens t JOIN signin_grants g ON g.id = t.grant_id \
         WHERE t.hash = $1 AND t.kind = $2"
    )
});

#[derive(Clone, Debug)]
pub struct Postgres {
    pool: PgPool,
}

impl Postgres {
    /// Connects and applies the migrations, under sqlx's advisory lock so
    /// that processes starting together do not race.
    pub(super) async fn open(url: &str, max_connections: u32) -> Result<Postgres, StoreError> {
        let options =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Postgres { pool })
    }

    pub(super) async fn claim(&self, request: &ClaimRequest<'_>) -> Result<Claim, StoreError> {
        let now = request.now_ms;
        let lease_until = request.lease_until();
        let expires_at = request.expires_at();
        // A row can vanish between the statements (finished and released,
        // or purged); a few rounds settle it.
        for _ in 0..4 {
            let inserted = sqlx::query(
                "INSERT INTO idempotency \
                 (key, caller, fingerprint, state, owner, lease_until, created_at, expires_at) \
                 VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING",
            )
            .bind(request.key)
            .bind(request.caller)
            .bind(request.fingerprint)
            .bind(request.owner)
            .bind(lease_until)
            .bind(now)
            .bind(expires_at)
            .execute(&self.pool)
            .await?
            .rows_affected();
            if inserted == 1 {
                return Ok(Claim::Claimed { recovering: false });
            }
            let existing: Option<Existing> = sqlx::query_as(&SELECT_EXISTING)
                .bind(request.key)
                .fetch_optional(&self.pool)
                .await?;
            let Some(existing) = existing else { continue };
            let recovering = match decide(&existing, request.fingerprint, now) {
                Decision::Answer(answer) => return Ok(answer),
                Decision::TakeOver { recovering } => recovering,
            };
            // Only if nobody took it meanwhile: the row is as it was read.
            let taken = sqlx::query(
                "UPDATE idempotency SET state = 'pending', owner = $3, fingerprint = $4, \
                 lease_until = $5, created_at = $6, expires_at = $7, status = NULL, answer = NULL \
                 WHERE key = $1 AND owner = $2 AND state = $8",
            )
            .bind(request.key)
            .bind(&existing.owner)
            .bind(request.owner)
            .bind(request.fingerprint)
            .bind(lease_until)
            .bind(now)
            .bind(expires_at)
            .bind(&existing.state)
            .execute(&self.pool)
            .await?
            .rows_affected();
            if taken == 1 {
                return Ok(Claim::Claimed { recovering });
            }
        }
        // Contended beyond reason: someone else is making progress.
        Ok(Claim::Pending)
    }

    pub(super) async fn finish(
        &self,
        key: &str,
        owner: &str,
        finish: &Finish,
        window: Duration,
        record: &AuditRecord,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let query = match finish {
            Finish::Done { status, answer } => sqlx::query(
                "UPDATE idempotency SET state = 'done', status = $3, answer = $4, \
                 lease_until = $5, expires_at = $6 WHERE key = $1 AND owner = $2",
            )
            .bind(key)
            .bind(owner)
            .bind(i64::from(*status))
            .bind(answer.as_str())
            .bind(now)
            .bind(now.saturating_add(millis(window))),
            Finish::Uncertain { settle_until } => sqlx::query(
                "UPDATE idempotency SET state = 'uncertain', lease_until = $3, \
                 settle_until = CASE WHEN settle_until > $4 THEN settle_until ELSE $4 END \
                 WHERE key = $1 AND owner = $2",
            )
            .bind(key)
            .bind(owner)
            .bind(now)
            .bind(*settle_until),
            Finish::Release => sqlx::query("DELETE FROM idempotency WHERE key = $1 AND owner = $2")
                .bind(key)
                .bind(owner),
        };
        let held = query.execute(&mut *tx).await?.rows_affected() == 1;
        insert_audit(record).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(held)
    }

    pub(super) async fn record(&self, record: &AuditRecord) -> Result<(), StoreError> {
        insert_audit(record).execute(&self.pool).await?;
        Ok(())
    }

    pub(super) async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = filter.sql('$');
        let mut query = sqlx::query_as(&sql)
            .bind(filter.since_ms)
            .bind(filter.limit());
        if let Some(caller) = filter.caller() {
            query = query.bind(caller);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }

    pub(super) async fn purge(&self, cutoff: i64, now: i64) -> Result<(u64, u64), StoreError> {
        let audit = sqlx::query("DELETE FROM audit WHERE at < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let idempotency =
            sqlx::query("DELETE FROM idempotency WHERE expires_at < $1 AND lease_until < $1")
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok((audit, idempotency))
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }

    pub(super) async fn oauth_get(&self) -> Result<Option<OAuthRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT site_url, cloud_id, scopes, access_token, refresh_token, expires_at, \
             refreshed_at, status FROM oauth_tokens WHERE id = $1",
        )
        .bind(OAUTH_ID)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub(super) async fn oauth_put(&self, row: &OAuthRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oauth_tokens (id, site_url, cloud_id, scopes, access_token, \
             refresh_token, expires_at, refreshed_at, status, lease_holder, lease_until) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, 0) \
             ON CONFLICT (id) DO UPDATE SET site_url = $2, cloud_id = $3, scopes = $4, \
             access_token = $5, refresh_token = $6, expires_at = $7, refreshed_at = $8, \
             status = $9, lease_holder = NULL, lease_until = 0",
        )
        .bind(OAUTH_ID)
        .bind(&row.site_url)
        .bind(&row.cloud_id)
        .bind(&row.scopes)
        .bind(&row.access_token)
        .bind(&row.refresh_token)
        .bind(row.expires_at_ms)
        .bind(row.refreshed_at_ms)
        .bind(&row.status)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn oauth_try_lease(
        &self,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let taken = sqlx::query(
            "UPDATE oauth_tokens SET lease_holder = $2, lease_until = $3 \
             WHERE id = $1 AND (lease_holder IS NULL OR lease_until < $4 OR lease_holder = $2)",
        )
        .bind(OAUTH_ID)
        .bind(holder)
        .bind(until_ms)
        .bind(now_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(taken == 1)
    }

    pub(super) async fn oauth_store_refreshed(
        &self,
        holder: &str,
        access_token: &str,
        refresh_token: Option<&str>,
        expires_at_ms: i64,
        refreshed_at_ms: i64,
    ) -> Result<bool, StoreError> {
        let stored = sqlx::query(
            "UPDATE oauth_tokens SET access_token = $3, refresh_token = COALESCE($4, refresh_token), \
             expires_at = $5, refreshed_at = $6, status = $7, lease_holder = NULL, lease_until = 0 \
             WHERE id = $1 AND lease_holder = $2",
        )
        .bind(OAUTH_ID)
        .bind(holder)
        .bind(access_token)
        .bind(refresh_token)
        .bind(expires_at_ms)
        .bind(refreshed_at_ms)
        .bind(STATUS_OK)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(stored == 1)
    }

    pub(super) async fn oauth_expire(
        &self,
        access_token: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let expired = sqlx::query(
            "UPDATE oauth_tokens SET expires_at = $3 \
             WHERE id = $1 AND access_token = $2 AND expires_at > $3",
        )
        .bind(OAUTH_ID)
        .bind(access_token)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(expired == 1)
    }

    pub(super) async fn oauth_release(
        &self,
        holder: &str,
        status: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE oauth_tokens SET lease_holder = NULL, lease_until = 0, \
             status = COALESCE($3, status) WHERE id = $1 AND lease_holder = $2",
        )
        .bind(OAUTH_ID)
        .bind(holder)
        .bind(status)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn signin_client_put(&self, client: StoredClient) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signin_clients (client_id, name, redirect_uris, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(client.client_id)
        .bind(client.name)
        .bind(client.redirect_uris)
        .bind(client.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn signin_client(
        &self,
        client_id: &str,
    ) -> Result<Option<StoredClient>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT client_id, name, redirect_uris, created_at FROM signin_clients \
             WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub(super) async fn signin_request_put(&self, request: &RequestRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signin_requests (id, client_id, redirect_uri, state, code_challenge, \
             resource, expires_at, upstream_nonce, upstream_verifier) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&request.id)
        .bind(&request.client_id)
        .bind(&request.redirect_uri)
        .bind(&request.state)
        .bind(&request.code_challenge)
        .bind(&request.resource)
        .bind(request.expires_at_ms)
        .bind(&request.upstream_nonce)
        .bind(&request.upstream_verifier)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn signin_request(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<RequestRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, client_id, redirect_uri, state, code_challenge, resource, account_id, \
             email, name, csrf, expires_at, upstream_nonce, upstream_verifier \
             FROM signin_requests WHERE id = $1 AND done = 0 AND expires_at > $2",
        )
        .bind(id)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub(super) async fn signin_request_signed_in(
        &self,
        id: &str,
        account_id: &str,
        email: &str,
        name: Option<&str>,
        csrf_hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE signin_requests SET account_id = $2, email = $3, name = $4, csrf = $5 \
             WHERE id = $1 AND account_id IS NULL AND done = 0 AND expires_at > $6",
        )
        .bind(id)
        .bind(account_id)
        .bind(email)
        .bind(name)
        .bind(csrf_hash)
        .bind(now_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    pub(super) async fn signin_request_end(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE signin_requests SET done = 1 WHERE id = $1 AND done = 0 AND expires_at > $2",
        )
        .bind(id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    pub(super) async fn signin_grant_with_code(
        &self,
        grant: &GrantRow,
        code: &CodeRow,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO signin_grants (id, client_id, account_id, email, name, resource, \
             created_at, last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)",
        )
        .bind(&grant.id)
        .bind(&grant.client_id)
        .bind(&grant.account_id)
        .bind(&grant.email)
        .bind(&grant.name)
        .bind(&grant.resource)
        .bind(grant.created_at_ms)
        .bind(grant.last_used_at_ms)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO signin_codes (hash, grant_id, redirect_uri, code_challenge, \
             expires_at, used_at) VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(&code.hash)
        .bind(&code.grant_id)
        .bind(&code.redirect_uri)
        .bind(&code.code_challenge)
        .bind(code.expires_at_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn signin_code(&self, hash: &str) -> Result<Option<StoredCode>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT hash, grant_id, redirect_uri, code_challenge, expires_at, used_at \
             FROM signin_codes WHERE hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub(super) async fn use_once(
        &self,
        table: UsedOnce,
        hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE {} SET used_at = $2 WHERE hash = $1 AND used_at IS NULL",
            table.table()
        );
        let changed = sqlx::query(&sql)
            .bind(hash)
            .bind(now_ms)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(changed == 1)
    }

    pub(super) async fn signin_grant(&self, id: &str) -> Result<Option<GrantRow>, StoreError> {
        let sql = format!("SELECT {GRANT_COLUMNS} FROM signin_grants g WHERE g.id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub(super) async fn signin_token_put(
        &self,
        hash: &str,
        grant_id: &str,
        kind: TokenKind,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signin_tokens (hash, grant_id, kind, expires_at, used_at) \
             VALUES ($1, $2, $3, $4, NULL)",
        )
        .bind(hash)
        .bind(grant_id)
        .bind(kind.as_str())
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn signin_token(
        &self,
        hash: &str,
        kind: TokenKind,
    ) -> Result<Option<StoredToken>, StoreError> {
        Ok(sqlx::query_as(&SELECT_TOKEN)
            .bind(hash)
            .bind(kind.as_str())
            .fetch_optional(&self.pool)
            .await?)
    }

    pub(super) async fn signin_grant_of_token(
        &self,
        hash: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT grant_id FROM signin_tokens WHERE hash = $1")
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub(super) async fn signin_revoke_grant(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE signin_grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    pub(super) async fn signin_revoke_person(
        &self,
        email: &str,
        client_id: Option<&str>,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE signin_grants SET revoked_at = $3 WHERE lower(email) = lower($1) \
             AND (CAST($2 AS TEXT) IS NULL OR client_id = $2) AND revoked_at IS NULL",
        )
        .bind(email)
        .bind(client_id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    pub(super) async fn signin_touch(
        &self,
        id: &str,
        now_ms: i64,
        unless_since: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE signin_grants SET last_used_at = $2 WHERE id = $1 AND last_used_at < $3",
        )
        .bind(id)
        .bind(now_ms)
        .bind(unless_since)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn signin_grants(&self) -> Result<Vec<GrantRow>, StoreError> {
        let sql = format!(
            "SELECT {GRANT_COLUMNS} FROM signin_grants g WHERE g.revoked_at IS NULL \
             ORDER BY g.last_used_at DESC"
        );
        Ok(sqlx::query_as(&sql).fetch_all(&self.pool).await?)
    }
}

fn insert_audit(
    r: &AuditRecord,
) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(
        "INSERT INTO audit (id, at, request_id, caller, signature, idempotency_key, reporter, \
         assignee, project, issue_type, summary, description, outcome, status, issue_key, \
         issue_url, error, jira_calls, latency_ms, front_door, client, operation, count, reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, $22, $23, $24)",
    )
    .bind(&r.id)
    .bind(r.at_ms)
    .bind(&r.request_id)
    .bind(&r.caller)
    .bind(&r.signature)
    .bind(&r.idempotency_key)
    .bind(&r.reporter)
    .bind(&r.assignee)
    .bind(&r.project)
    .bind(&r.issue_type)
    .bind(&r.summary)
    .bind(&r.description)
    .bind(r.outcome.as_str())
    .bind(r.status)
    .bind(&r.issue_key)
    .bind(&r.issue_url)
    .bind(&r.error)
    .bind(r.jira_calls)
    .bind(r.latency_ms)
    .bind(&r.front_door)
    .bind(&r.client)
    .bind(&r.operation)
    .bind(r.count)
    .bind(&r.reason)
}
