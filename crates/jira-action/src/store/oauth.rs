//! The OAuth connection row (`oauth_tokens`): what `oauth login` writes and
//! what every process refreshes under a lease.

use sqlx::Row;

use super::{Store, StoreError};

/// The row's fixed id: one Jira connection per deployment.
const ID: &str = "jira";

/// The stored connection; tokens still sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthRow {
    pub site_url: String,
    pub cloud_id: String,
    pub scopes: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at_ms: i64,
    pub refreshed_at_ms: i64,
    /// `ok` or `reconsent_needed`.
    pub status: String,
}

pub const STATUS_OK: &str = "ok";
pub const STATUS_RECONSENT: &str = "reconsent_needed";

impl Store {
    pub async fn oauth_get(&self) -> Result<Option<OAuthRow>, StoreError> {
        let row = on_pool!(self, pool => sqlx::query(
            "SELECT site_url, cloud_id, scopes, access_token, refresh_token, expires_at, \
             refreshed_at, status FROM oauth_tokens WHERE id = $1",
        )
        .bind(ID)
        .fetch_optional(pool)
        .await?
        .map(|row| -> Result<OAuthRow, sqlx::Error> {
            Ok(OAuthRow {
                site_url: row.try_get("site_url")?,
                cloud_id: row.try_get("cloud_id")?,
                scopes: row.try_get("scopes")?,
                access_token: row.try_get("access_token")?,
                refresh_token: row.try_get("refresh_token")?,
                expires_at_ms: row.try_get("expires_at")?,
                refreshed_at_ms: row.try_get("refreshed_at")?,
                status: row.try_get("status")?,
            })
        })
        .transpose()?);
        Ok(row)
    }

    /// Writes a new connection (after `oauth login`), replacing any other.
    pub async fn oauth_put(&self, row: &OAuthRow) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO oauth_tokens (id, site_url, cloud_id, scopes, access_token, \
             refresh_token, expires_at, refreshed_at, status, lease_holder, lease_until) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, 0) \
             ON CONFLICT (id) DO UPDATE SET site_url = $2, cloud_id = $3, scopes = $4, \
             access_token = $5, refresh_token = $6, expires_at = $7, refreshed_at = $8, \
             status = $9, lease_holder = NULL, lease_until = 0",
        )
        .bind(ID)
        .bind(&row.site_url)
        .bind(&row.cloud_id)
        .bind(&row.scopes)
        .bind(&row.access_token)
        .bind(&row.refresh_token)
        .bind(row.expires_at_ms)
        .bind(row.refreshed_at_ms)
        .bind(&row.status)
        .execute(pool)
        .await
        .map(drop)?);
        Ok(())
    }

    /// Takes the refresh lease until `until_ms` unless another holder's is
    /// still running at `now_ms` (the caller's clock). True when this
    /// holder has it.
    pub async fn oauth_try_lease(
        &self,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let taken = on_pool!(self, pool => sqlx::query(
            "UPDATE oauth_tokens SET lease_holder = $2, lease_until = $3 \
             WHERE id = $1 AND (lease_holder IS NULL OR lease_until < $4 OR lease_holder = $2)",
        )
        .bind(ID)
        .bind(holder)
        .bind(until_ms)
        .bind(now_ms)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(taken == 1)
    }

    /// Stores refreshed tokens and gives the lease back, in one statement,
    /// only while `holder` still has the lease. False when it had lost it.
    /// `refreshed_at_ms` is the caller's clock.
    pub async fn oauth_store_refreshed(
        &self,
        holder: &str,
        access_token: &str,
        refresh_token: Option<&str>,
        expires_at_ms: i64,
        refreshed_at_ms: i64,
    ) -> Result<bool, StoreError> {
        let stored = on_pool!(self, pool => sqlx::query(
            "UPDATE oauth_tokens SET access_token = $3, refresh_token = COALESCE($4, refresh_token), \
             expires_at = $5, refreshed_at = $6, status = $7, lease_holder = NULL, lease_until = 0 \
             WHERE id = $1 AND lease_holder = $2",
        )
        .bind(ID)
        .bind(holder)
        .bind(access_token)
        .bind(refresh_token)
        .bind(expires_at_ms)
        .bind(refreshed_at_ms)
        .bind(STATUS_OK)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(stored == 1)
    }

    /// Marks `access_token` (sealed, as stored) expired at `now` (the
    /// caller's clock), if it is still the stored one and not already
    /// expired; says whether it was.
    pub async fn oauth_expire(&self, access_token: &str, now: i64) -> Result<bool, StoreError> {
        let expired = on_pool!(self, pool => sqlx::query(
            "UPDATE oauth_tokens SET expires_at = $3 \
             WHERE id = $1 AND access_token = $2 AND expires_at > $3",
        )
        .bind(ID)
        .bind(access_token)
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(expired == 1)
    }

    /// Ends the lease, recording `status` (e.g. re-consent needed).
    pub async fn oauth_release(
        &self,
        holder: &str,
        status: Option<&str>,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE oauth_tokens SET lease_holder = NULL, lease_until = 0, \
             status = COALESCE($3, status) WHERE id = $1 AND lease_holder = $2",
        )
        .bind(ID)
        .bind(holder)
        .bind(status)
        .execute(pool)
        .await
        .map(drop)?);
        Ok(())
    }
}
