//! Sign-in for `/mcp` (`migrations/0006_signin.sql`): each operation
//! dispatched to its backend, and the single-use rules, once for both.
//!
//! Codes and tokens arrive here already hashed (see `signin::secret`);
//! every check takes "now" from the caller, so tests move time by hand.
//! Each one-time use (a code redeemed, a refresh token rotated, a consent
//! given) is a conditional `UPDATE`: of two processes racing, exactly one
//! sees its row change.

use super::{Store, StoreError, dispatch};
use crate::signin::rows::{ClientRow, CodeRow, GrantRow, Refused, RequestRow, TokenKind};

/// The columns of a grant, as `g`.
pub(super) const GRANT_COLUMNS: &str = "g.id, g.client_id, g.account_id, g.email, g.name, \
     g.resource, g.created_at, g.last_used_at, g.revoked_at";

/// A table whose rows are used once (see [`Store::use_once`]).
#[derive(Clone, Copy, Debug)]
pub(super) enum UsedOnce {
    Codes,
    Tokens,
}

impl UsedOnce {
    pub(super) fn table(self) -> &'static str {
        match self {
            UsedOnce::Codes => "signin_codes",
            UsedOnce::Tokens => "signin_tokens",
        }
    }
}

/// A client as stored: its redirect URIs as a JSON array.
#[derive(sqlx::FromRow)]
pub(super) struct StoredClient {
    pub client_id: String,
    pub name: Option<String>,
    pub redirect_uris: String,
    pub created_at: i64,
}

impl StoredClient {
    pub(super) fn of(client: &ClientRow) -> Result<StoredClient, StoreError> {
        Ok(StoredClient {
            client_id: client.client_id.clone(),
            name: client.name.clone(),
            redirect_uris: serde_json::to_string(&client.redirect_uris)
                .map_err(|e| StoreError::Io(e.to_string()))?,
            created_at: client.created_at_ms,
        })
    }

    fn into_row(self) -> ClientRow {
        ClientRow {
            client_id: self.client_id,
            name: self.name,
            // Written by `StoredClient::of`; unreadable means none.
            redirect_uris: serde_json::from_str(&self.redirect_uris).unwrap_or_default(),
            created_at_ms: self.created_at,
        }
    }
}

/// A code and when it was redeemed, if it was.
#[derive(sqlx::FromRow)]
pub(super) struct StoredCode {
    #[sqlx(flatten)]
    pub code: CodeRow,
    pub used_at: Option<i64>,
}

/// A token's grant, expiry and (a refresh token) when it was rotated.
#[derive(sqlx::FromRow)]
pub(super) struct StoredToken {
    #[sqlx(flatten)]
    pub grant: GrantRow,
    pub token_expires_at: i64,
    pub token_used_at: Option<i64>,
}

impl Store {
    pub async fn signin_client_put(&self, client: &ClientRow) -> Result<(), StoreError> {
        let stored = StoredClient::of(client)?;
        dispatch!(self, signin_client_put(stored))
    }

    pub async fn signin_client(&self, client_id: &str) -> Result<Option<ClientRow>, StoreError> {
        let stored = dispatch!(self, signin_client(client_id))?;
        Ok(stored.map(StoredClient::into_row))
    }

    pub async fn signin_request_put(&self, request: &RequestRow) -> Result<(), StoreError> {
        dispatch!(self, signin_request_put(request))
    }

    /// An authorization still in progress (not expired, not ended).
    pub async fn signin_request(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<RequestRow>, StoreError> {
        dispatch!(self, signin_request(id, now_ms))
    }

    /// Records who signed in upstream, once: false when the request is
    /// gone, expired or already had its person.
    pub async fn signin_request_signed_in(
        &self,
        id: &str,
        account_id: &str,
        email: &str,
        name: Option<&str>,
        csrf_hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        dispatch!(
            self,
            signin_request_signed_in(id, account_id, email, name, csrf_hash, now_ms)
        )
    }

    /// Ends an authorization (consent given or denied), once.
    pub async fn signin_request_end(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        dispatch!(self, signin_request_end(id, now_ms))
    }

    /// A new grant with its authorization code.
    pub async fn signin_grant_with_code(
        &self,
        grant: &GrantRow,
        code: &CodeRow,
    ) -> Result<(), StoreError> {
        dispatch!(self, signin_grant_with_code(grant, code))
    }

    /// Redeems a code, once. A second redemption revokes its grant (and so
    /// every token it gave), as OAuth 2.1 asks.
    pub async fn signin_code_redeem(
        &self,
        hash: &str,
        now_ms: i64,
    ) -> Result<Result<(CodeRow, GrantRow), Refused>, StoreError> {
        let Some(StoredCode { code, used_at }) = dispatch!(self, signin_code(hash))? else {
            return Ok(Err(Refused::Unknown));
        };
        if used_at.is_some() || !self.use_once(UsedOnce::Codes, hash, now_ms).await? {
            self.signin_revoke_grant(&code.grant_id, now_ms).await?;
            return Ok(Err(Refused::Reused));
        }
        if code.expires_at_ms <= now_ms {
            return Ok(Err(Refused::Expired));
        }
        match self.signin_grant(&code.grant_id).await? {
            Some(grant) if grant.revoked_at_ms.is_none() => Ok(Ok((code, grant))),
            Some(_) => Ok(Err(Refused::Revoked)),
            None => Ok(Err(Refused::Unknown)),
        }
    }

    pub async fn signin_grant(&self, id: &str) -> Result<Option<GrantRow>, StoreError> {
        dispatch!(self, signin_grant(id))
    }

    pub async fn signin_token_put(
        &self,
        hash: &str,
        grant_id: &str,
        kind: TokenKind,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self, signin_token_put(hash, grant_id, kind, expires_at_ms))
    }

    /// The grant behind an access token, if the token is good now.
    pub async fn signin_access(
        &self,
        hash: &str,
        now_ms: i64,
    ) -> Result<Result<GrantRow, Refused>, StoreError> {
        let Some(token) = dispatch!(self, signin_token(hash, TokenKind::Access))? else {
            return Ok(Err(Refused::Unknown));
        };
        Ok(if token.grant.revoked_at_ms.is_some() {
            Err(Refused::Revoked)
        } else if token.token_expires_at <= now_ms {
            Err(Refused::Expired)
        } else {
            Ok(token.grant)
        })
    }

    /// Rotates a refresh token: good once. A second use revokes the grant.
    pub async fn signin_refresh(
        &self,
        hash: &str,
        now_ms: i64,
    ) -> Result<Result<GrantRow, Refused>, StoreError> {
        let Some(token) = dispatch!(self, signin_token(hash, TokenKind::Refresh))? else {
            return Ok(Err(Refused::Unknown));
        };
        let grant = token.grant;
        if grant.revoked_at_ms.is_some() {
            return Ok(Err(Refused::Revoked));
        }
        if token.token_used_at.is_some() || !self.use_once(UsedOnce::Tokens, hash, now_ms).await? {
            self.signin_revoke_grant(&grant.id, now_ms).await?;
            return Ok(Err(Refused::Reused));
        }
        if token.token_expires_at <= now_ms {
            return Ok(Err(Refused::Expired));
        }
        Ok(Ok(grant))
    }

    /// Marks a code or refresh token used; false when it already was (of
    /// two racing processes, one gets true).
    async fn use_once(&self, table: UsedOnce, hash: &str, now_ms: i64) -> Result<bool, StoreError> {
        dispatch!(self, use_once(table, hash, now_ms))
    }

    /// The grant a token of either kind belongs to (revocation).
    pub async fn signin_grant_of_token(&self, hash: &str) -> Result<Option<String>, StoreError> {
        dispatch!(self, signin_grant_of_token(hash))
    }

    /// Ends a grant: every token it gave stops working at once.
    pub async fn signin_revoke_grant(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        dispatch!(self, signin_revoke_grant(id, now_ms))
    }

    /// Ends every live grant of a person (by email, as operators know
    /// them), or only those given to one client. Says how many ended.
    pub async fn signin_revoke_person(
        &self,
        email: &str,
        client_id: Option<&str>,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        dispatch!(self, signin_revoke_person(email, client_id, now_ms))
    }

    /// Notes a grant's use, at most once a minute per grant (a write per
    /// call would cost more than the answer is worth).
    pub async fn signin_touch(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        dispatch!(
            self,
            signin_touch(id, now_ms, now_ms.saturating_sub(60_000))
        )
    }

    /// The live grants, most recently used first (`mcp grants`).
    pub async fn signin_grants(&self) -> Result<Vec<GrantRow>, StoreError> {
        dispatch!(self, signin_grants())
    }
}
