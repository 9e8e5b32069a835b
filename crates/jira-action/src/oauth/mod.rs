//! `auth = "oauth"`: the server holds an admin's Atlassian OAuth 2.0 (3LO)
//! connection itself and keeps it alive.
//!
//! Tokens live in the store, sealed ([`crypto`]). Access tokens are
//! refreshed shortly before they expire, by one process at a time (a lease
//! in the store) and one task at a time within it; because Atlassian's
//! refresh tokens rotate, the new refresh token is stored before the new
//! access token is used. `invalid_grant` means a person must consent again:
//! the connection is marked so in the store, and every request, `/readyz`,
//! the metrics and the log say so until `jira-action oauth login` is run.

pub mod crypto;
pub mod login;
mod row;

use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jira::{OAuthApp, OAuthError};
use secrecy::SecretString;

use crate::store::{Clock, Store, StoreError};
use crypto::{CryptoError, TokenCipher};
pub use row::{OAuthRow, STATUS_OK, STATUS_RECONSENT};

/// How long a refresh lease lasts: longer than one token request takes.
const LEASE: Duration = Duration::from_secs(30);
/// How long a request waits for another process's refresh.
const WAIT_FOR_REFRESH: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no OAuth connection: run `jira-action oauth login`")]
    NotConnected,
    #[error(
        "the OAuth connection was revoked or expired: an admin must run `jira-action oauth login`"
    )]
    ReconsentNeeded,
    #[error("refreshing the OAuth token failed: {0}")]
    Refresh(#[from] OAuthError),
    #[error("another process did not finish refreshing the OAuth token in time")]
    RefreshTimeout,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

struct Cached {
    token: SecretString,
    /// The token as the store holds it (sealed), to name it there.
    sealed: String,
    /// When to stop using it: the expiry less the refresh margin.
    use_until_ms: i64,
    expires_at_ms: i64,
}

/// Hands out a valid access token, refreshing it when needed.
pub struct TokenManager {
    app: OAuthApp,
    http: reqwest::Client,
    store: Store,
    cipher: TokenCipher,
    /// This process's name in the refresh lease.
    holder: String,
    margin: Duration,
    cached: RwLock<Option<Cached>>,
    /// "Now" for expiry, margin and lease: the system clock unless a test
    /// moves it.
    clock: Clock,
    refreshing: tokio::sync::Mutex<()>,
    reconsent_needed: AtomicBool,
    /// The connection's site and cloud id, as `oauth login` chose them.
    pub site_url: String,
    pub cloud_id: String,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("site_url", &self.site_url)
            .finish_non_exhaustive()
    }
}

impl TokenManager {
    /// Loads the connection `oauth login` stored; expiries are judged by
    /// `clock`.
    pub async fn open(
        app: OAuthApp,
        store: Store,
        cipher: TokenCipher,
        margin: Duration,
        clock: Clock,
    ) -> Result<TokenManager, TokenError> {
        let row = store.oauth_get().await?.ok_or(TokenError::NotConnected)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| TokenError::Refresh(OAuthError::Transport(e.to_string())))?;
        Ok(TokenManager {
            reconsent_needed: AtomicBool::new(row.status == STATUS_RECONSENT),
            site_url: row.site_url,
            cloud_id: row.cloud_id,
            app,
            http,
            store,
            cipher,
            holder: uuid::Uuid::new_v4().to_string(),
            margin,
            cached: RwLock::new(None),
            clock,
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    /// True once Jira refused the refresh token: a person must consent
    /// again. Shown by `/readyz`, the metrics and the log.
    pub fn reconsent_needed(&self) -> bool {
        self.reconsent_needed.load(Ordering::Relaxed)
    }

    /// Seconds until the access token in use expires (for the metrics).
    pub fn seconds_to_expiry(&self) -> Option<i64> {
        let cached = self.cached.read().ok()?;
        cached
            .as_ref()
            .map(|c| (c.expires_at_ms - self.now_ms()) / 1000)
    }

    /// A valid access token.
    pub async fn access_token(&self) -> Result<SecretString, TokenError> {
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        // One refresh at a time in this process; the others wait here and
        // then find the new token.
        let _one_at_a_time = self.refreshing.lock().await;
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        // Waiting on another process is real time, whatever the clock says.
        let started = tokio::time::Instant::now();
        loop {
            let row = self
                .store
                .oauth_get()
                .await?
                .ok_or(TokenError::NotConnected)?;
            if row.status == STATUS_RECONSENT {
                return Err(self.mark_reconsent());
            }
            // An admin may have run `oauth login` again since.
            if self.reconsent_needed.swap(false, Ordering::Relaxed) {
                tracing::info!("the OAuth connection was renewed by a new consent");
            }
            if let Some(token) = self.adopt(&row)? {
                return Ok(token);
            }
            if self
                .store
                .oauth_try_lease(&self.holder, self.now_ms(), self.now_ms() + millis(LEASE))
                .await?
            {
                return self.refresh().await;
            }
            if started.elapsed() > WAIT_FOR_REFRESH {
                return Err(TokenError::RefreshTimeout);
            }
            // Another process is refreshing: its tokens appear shortly.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Jira refused the access token in use (401) before its stated
    /// expiry: revoked, or ended early. Forgets it and marks it expired in
    /// the store, so the next request refreshes it (once, for every
    /// process sharing the store) instead of failing until the expiry.
    /// A token another process has already replaced is left alone.
    pub async fn refused(&self) {
        let refused = match self.cached.write() {
            Ok(mut cached) => cached.take(),
            Err(_) => None,
        };
        // Requests refused together: the first one does it.
        let Some(refused) = refused else { return };
        match self
            .store
            .oauth_expire(&refused.sealed, self.now_ms())
            .await
        {
            Ok(true) => tracing::warn!("Jira refused the OAuth access token early; refreshing it"),
            Ok(false) => {}
            Err(err) => {
                tracing::error!(cause = %err, "cannot mark the refused OAuth token expired")
            }
        }
    }

    fn fresh(&self) -> Option<SecretString> {
        let cached = self.cached.read().ok()?;
        cached
            .as_ref()
            .filter(|c| c.use_until_ms > self.now_ms())
            .map(|c| c.token.clone())
    }

    /// Uses the stored access token if it is still fresh enough.
    fn adopt(&self, row: &OAuthRow) -> Result<Option<SecretString>, TokenError> {
        let use_until_ms = row.expires_at_ms - self.margin_ms(row);
        if use_until_ms <= self.now_ms() {
            return Ok(None);
        }
        let token = self.cipher.open(&row.access_token)?;
        if let Ok(mut cached) = self.cached.write() {
            *cached = Some(Cached {
                token: token.clone(),
                sealed: row.access_token.clone(),
                use_until_ms,
                expires_at_ms: row.expires_at_ms,
            });
        }
        Ok(Some(token))
    }

    /// Refresh early by the configured margin, but never by more than a
    /// quarter of the token's life (tests use lifetimes of seconds).
    fn margin_ms(&self, row: &OAuthRow) -> i64 {
        let lifetime = (row.expires_at_ms - row.refreshed_at_ms).max(0);
        millis(self.margin).min(lifetime / 4)
    }

    /// Holding the lease: refresh, store, release.
    async fn refresh(&self) -> Result<SecretString, TokenError> {
        // Another process may have refreshed between our read and the lease.
        let row = self
            .store
            .oauth_get()
            .await?
            .ok_or(TokenError::NotConnected)?;
        if let Some(token) = self.adopt(&row)? {
            self.store.oauth_release(&self.holder, None).await?;
            return Ok(token);
        }
        let Some(sealed_refresh) = row.refresh_token.as_deref() else {
            self.store
                .oauth_release(&self.holder, Some(STATUS_RECONSENT))
                .await?;
            return Err(self.mark_reconsent());
        };
        let refresh_token = self.cipher.open(sealed_refresh)?;
        match self.app.refresh(&self.http, &refresh_token).await {
            Ok(tokens) => {
                let access = self.cipher.seal(&tokens.access_token);
                let refresh = tokens.refresh_token.as_ref().map(|t| self.cipher.seal(t));
                let refreshed_at_ms = self.now_ms();
                let expires_at_ms = refreshed_at_ms.saturating_add(millis(tokens.expires_in));
                // Persist (the rotated refresh token above all) before use.
                let stored = self
                    .store
                    .oauth_store_refreshed(
                        &self.holder,
                        &access,
                        refresh.as_deref(),
                        expires_at_ms,
                        refreshed_at_ms,
                    )
                    .await?;
                if !stored {
                    tracing::warn!("the OAuth refresh lease ran out before the tokens were stored");
                }
                tracing::info!(expires_at_ms, "OAuth access token refreshed");
                let row = OAuthRow {
                    access_token: access,
                    expires_at_ms,
                    refreshed_at_ms,
                    ..row
                };
                self.adopt(&row)?.ok_or(TokenError::RefreshTimeout)
            }
            Err(OAuthError::InvalidGrant) => {
                self.store
                    .oauth_release(&self.holder, Some(STATUS_RECONSENT))
                    .await?;
                Err(self.mark_reconsent())
            }
            Err(other) => {
                self.store.oauth_release(&self.holder, None).await?;
                Err(TokenError::Refresh(other))
            }
        }
    }

    fn now_ms(&self) -> i64 {
        (self.clock)()
    }

    fn mark_reconsent(&self) -> TokenError {
        if !self.reconsent_needed.swap(true, Ordering::Relaxed) {
            tracing::error!(
                "the OAuth connection needs consent again: an admin must run `jira-action oauth login`"
            );
        }
        TokenError::ReconsentNeeded
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
