//! Sign-in for `/mcp`: registered clients, authorizations in progress,
//! grants, and their codes and tokens (`migrations/0006_signin.sql`).
//!
//! Codes and tokens arrive here already hashed (see `signin::secret`);
//! every check takes "now" from the caller, so tests move time by hand.
//! Each one-time use (a code redeemed, a refresh token rotated, a consent
//! given) is a conditional `UPDATE`: of two processes racing, exactly one
//! sees its row change.

use sqlx::Row;

use super::{Store, StoreError};

/// A client that registered itself (RFC 7591).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRow {
    pub client_id: String,
    pub name: Option<String>,
    pub redirect_uris: Vec<String>,
    pub created_at_ms: i64,
}

/// An authorization between `authorize` and the consent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestRow {
    /// The hash of the state sent upstream.
    pub id: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// The client's `state`, handed back with the code.
    pub state: Option<String>,
    pub code_challenge: String,
    pub resource: String,
    /// Set once the person signed in upstream.
    pub account_id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The hash of the consent form's CSRF token.
    pub csrf: Option<String>,
    pub expires_at_ms: i64,
    /// What the OpenID Connect upstream's ID token must carry as `nonce`.
    pub upstream_nonce: Option<String>,
    /// The PKCE verifier the OpenID Connect upstream's code is redeemed
    /// with.
    pub upstream_verifier: Option<String>,
}

/// What a person allowed a client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrantRow {
    pub id: String,
    pub client_id: String,
    pub account_id: String,
    pub email: String,
    pub name: Option<String>,
    /// The one resource its tokens are good for (this server's `/mcp`).
    pub resource: String,
    pub created_at_ms: i64,
    pub last_used_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

impl GrantRow {
    /// Who the grant's calls are for: its Atlassian account, or (signed in
    /// with an OpenID Connect provider, no account id) its email, looked
    /// up in Jira as on the Glean path.
    pub fn principal(&self) -> crate::tools::Principal {
        match self.account_id.is_empty() {
            true => crate::tools::Principal::Email(self.email.clone()),
            false => crate::tools::Principal::Account {
                account_id: self.account_id.clone(),
                email: self.email.clone(),
            },
        }
    }
}

/// An authorization code, before it is redeemed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRow {
    pub hash: String,
    pub grant_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub expires_at_ms: i64,
}

/// Why a code or token is not (or no longer) good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    Unknown,
    Expired,
    /// Its grant was revoked (by the person, an operator, or a reuse).
    Revoked,
    /// A code or refresh token presented a second time: its whole grant is
    /// revoked now.
    Reused,
}

impl Refused {
    /// The reason, for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::Unknown => "unknown",
            Refused::Expired => "expired",
            Refused::Revoked => "revoked",
            Refused::Reused => "reused",
        }
    }
}

/// Access and refresh tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

const GRANT_COLUMNS: &str = "g.id, g.client_id, g.account_id, g.email, g.name, g.resource, \
     g.created_at, g.last_used_at, g.revoked_at";

fn grant_of<R: Row>(row: &R) -> Result<GrantRow, sqlx::Error>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<String>: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<i64>: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
{
    Ok(GrantRow {
        id: row.try_get("id")?,
        client_id: row.try_get("client_id")?,
        account_id: row.try_get("account_id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        resource: row.try_get("resource")?,
        created_at_ms: row.try_get("created_at")?,
        last_used_at_ms: row.try_get("last_used_at")?,
        revoked_at_ms: row.try_get("revoked_at")?,
    })
}

impl Store {
    pub async fn signin_client_put(&self, client: &ClientRow) -> Result<(), StoreError> {
        let uris = serde_json::to_string(&client.redirect_uris)
            .map_err(|e| StoreError::Io(e.to_string()))?;
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO signin_clients (client_id, name, redirect_uris, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&client.client_id)
        .bind(&client.name)
        .bind(&uris)
        .bind(client.created_at_ms)
        .execute(pool)
        .await
        .map(drop)?);
        Ok(())
    }

    pub async fn signin_client(&self, client_id: &str) -> Result<Option<ClientRow>, StoreError> {
        let row = on_pool!(self, pool => sqlx::query(
            "SELECT client_id, name, redirect_uris, created_at FROM signin_clients \
             WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(pool)
        .await?
        .map(|row| -> Result<(String, Option<String>, String, i64), sqlx::Error> {
            Ok((
                row.try_get("client_id")?,
                row.try_get("name")?,
                row.try_get("redirect_uris")?,
                row.try_get("created_at")?,
            ))
        })
        .transpose()?);
        Ok(row.map(|(client_id, name, uris, created_at_ms)| ClientRow {
            client_id,
            name,
            // Written by `signin_client_put`; unreadable means none.
            redirect_uris: serde_json::from_str(&uris).unwrap_or_default(),
            created_at_ms,
        }))
    }

    pub async fn signin_request_put(&self, request: &RequestRow) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
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
        .execute(pool)
        .await
        .map(drop)?);
        Ok(())
    }

    /// An authorization still in progress (not expired, not ended).
    pub async fn signin_request(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<RequestRow>, StoreError> {
        let row = on_pool!(self, pool => sqlx::query(
            "SELECT id, client_id, redirect_uri, state, code_challenge, resource, account_id, \
             email, name, csrf, expires_at, upstream_nonce, upstream_verifier \
             FROM signin_requests \
             WHERE id = $1 AND done = 0 AND expires_at > $2",
        )
        .bind(id)
        .bind(now_ms)
        .fetch_optional(pool)
        .await?
        .map(|row| -> Result<RequestRow, sqlx::Error> {
            Ok(RequestRow {
                id: row.try_get("id")?,
                client_id: row.try_get("client_id")?,
                redirect_uri: row.try_get("redirect_uri")?,
                state: row.try_get("state")?,
                code_challenge: row.try_get("code_challenge")?,
                resource: row.try_get("resource")?,
                account_id: row.try_get("account_id")?,
                email: row.try_get("email")?,
                name: row.try_get("name")?,
                csrf: row.try_get("csrf")?,
                expires_at_ms: row.try_get("expires_at")?,
                upstream_nonce: row.try_get("upstream_nonce")?,
                upstream_verifier: row.try_get("upstream_verifier")?,
            })
        })
        .transpose()?);
        Ok(row)
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
        let changed = on_pool!(self, pool => sqlx::query(
            "UPDATE signin_requests SET account_id = $2, email = $3, name = $4, csrf = $5 \
             WHERE id = $1 AND account_id IS NULL AND done = 0 AND expires_at > $6",
        )
        .bind(id)
        .bind(account_id)
        .bind(email)
        .bind(name)
        .bind(csrf_hash)
        .bind(now_ms)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(changed == 1)
    }

    /// Ends an authorization (consent given or denied), once.
    pub async fn signin_request_end(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let changed = on_pool!(self, pool => sqlx::query(
            "UPDATE signin_requests SET done = 1 WHERE id = $1 AND done = 0 AND expires_at > $2",
        )
        .bind(id)
        .bind(now_ms)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(changed == 1)
    }

    /// A new grant with its authorization code.
    pub async fn signin_grant_with_code(
        &self,
        grant: &GrantRow,
        code: &CodeRow,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
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
            tx.commit().await?
        });
        Ok(())
    }

    /// Redeems a code, once. A second redemption revokes its grant (and so
    /// every token it gave), as OAuth 2.1 asks.
    pub async fn signin_code_redeem(
        &self,
        hash: &str,
        now_ms: i64,
    ) -> Result<Result<(CodeRow, GrantRow), Refused>, StoreError> {
        let found = on_pool!(self, pool => sqlx::query(
            "SELECT c.hash, c.grant_id, c.redirect_uri, c.code_challenge, c.expires_at, \
             c.used_at FROM signin_codes c WHERE c.hash = $1",
        )
        .bind(hash)
        .fetch_optional(pool)
        .await?
        .map(|row| -> Result<(CodeRow, Option<i64>), sqlx::Error> {
            Ok((
                CodeRow {
                    hash: row.try_get("hash")?,
                    grant_id: row.try_get("grant_id")?,
                    redirect_uri: row.try_get("redirect_uri")?,
                    code_challenge: row.try_get("code_challenge")?,
                    expires_at_ms: row.try_get("expires_at")?,
                },
                row.try_get("used_at")?,
            ))
        })
        .transpose()?);
        let Some((code, used_at)) = found else {
            return Ok(Err(Refused::Unknown));
        };
        if used_at.is_some() || !self.use_once("signin_codes", hash, now_ms).await? {
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
        let sql = format!("SELECT {GRANT_COLUMNS} FROM signin_grants g WHERE g.id = $1");
        let row = on_pool!(self, pool => sqlx::query(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await?
            .map(|row| grant_of(&row))
            .transpose()?);
        Ok(row)
    }

    pub async fn signin_token_put(
        &self,
        hash: &str,
        grant_id: &str,
        kind: TokenKind,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO signin_tokens (hash, grant_id, kind, expires_at, used_at) \
             VALUES ($1, $2, $3, $4, NULL)",
        )
        .bind(hash)
        .bind(grant_id)
        .bind(kind.as_str())
        .bind(expires_at_ms)
        .execute(pool)
        .await
        .map(drop)?);
        Ok(())
    }

    /// The grant behind an access token, if the token is good now.
    pub async fn signin_access(
        &self,
        hash: &str,
        now_ms: i64,
    ) -> Result<Result<GrantRow, Refused>, StoreError> {
        let Some((grant, expires_at, _)) = self.signin_token(hash, TokenKind::Access).await? else {
            return Ok(Err(Refused::Unknown));
        };
        Ok(if grant.revoked_at_ms.is_some() {
            Err(Refused::Revoked)
        } else if expires_at <= now_ms {
            Err(Refused::Expired)
        } else {
            Ok(grant)
        })
    }

    /// Rotates a refresh token: good once. A second use revokes the grant.
    pub async fn signin_refresh(
        &self,
        hash: &str,
        now_ms: i64,
    ) -> Result<Result<GrantRow, Refused>, StoreError> {
        let Some((grant, expires_at, used_at)) =
            self.signin_token(hash, TokenKind::Refresh).await?
        else {
            return Ok(Err(Refused::Unknown));
        };
        if grant.revoked_at_ms.is_some() {
            return Ok(Err(Refused::Revoked));
        }
        if used_at.is_some() || !self.use_once("signin_tokens", hash, now_ms).await? {
            self.signin_revoke_grant(&grant.id, now_ms).await?;
            return Ok(Err(Refused::Reused));
        }
        if expires_at <= now_ms {
            return Ok(Err(Refused::Expired));
        }
        Ok(Ok(grant))
    }

    /// Marks a code or refresh token used; false when it already was (of
    /// two racing processes, one gets true). `table` is one of ours.
    async fn use_once(&self, table: &str, hash: &str, now_ms: i64) -> Result<bool, StoreError> {
        let sql = format!("UPDATE {table} SET used_at = $2 WHERE hash = $1 AND used_at IS NULL");
        let changed = on_pool!(self, pool => sqlx::query(&sql)
            .bind(hash)
            .bind(now_ms)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(changed == 1)
    }

    async fn signin_token(
        &self,
        hash: &str,
        kind: TokenKind,
    ) -> Result<Option<(GrantRow, i64, Option<i64>)>, StoreError> {
        let sql = format!(
            "SELECT {GRANT_COLUMNS}, t.expires_at AS token_expires_at, t.used_at AS token_used_at \
             FROM signin_tokens t JOIN signin_grants g ON g.id = t.grant_id \
             WHERE t.hash = $1 AND t.kind = $2"
        );
        let row = on_pool!(self, pool => sqlx::query(&sql)
            .bind(hash)
            .bind(kind.as_str())
            .fetch_optional(pool)
            .await?
            .map(|row| -> Result<(GrantRow, i64, Option<i64>), sqlx::Error> {
                Ok((
                    grant_of(&row)?,
                    row.try_get("token_expires_at")?,
                    row.try_get("token_used_at")?,
                ))
            })
            .transpose()?);
        Ok(row)
    }

    /// The grant a token of either kind belongs to (revocation).
    pub async fn signin_grant_of_token(&self, hash: &str) -> Result<Option<String>, StoreError> {
        let id = on_pool!(self, pool => sqlx::query(
            "SELECT grant_id FROM signin_tokens WHERE hash = $1",
        )
        .bind(hash)
        .fetch_optional(pool)
        .await?
        .map(|row| row.try_get::<String, _>("grant_id"))
        .transpose()?);
        Ok(id)
    }

    /// Ends a grant: every token it gave stops working at once.
    pub async fn signin_revoke_grant(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let changed = on_pool!(self, pool => sqlx::query(
            "UPDATE signin_grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now_ms)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(changed == 1)
    }

    /// Ends every live grant of a person (by email, as operators know
    /// them), or only those given to one client. Says how many ended.
    pub async fn signin_revoke_person(
        &self,
        email: &str,
        client_id: Option<&str>,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let changed = on_pool!(self, pool => sqlx::query(
            "UPDATE signin_grants SET revoked_at = $3 WHERE lower(email) = lower($1) \
             AND (CAST($2 AS TEXT) IS NULL OR client_id = $2) AND revoked_at IS NULL",
        )
        .bind(email)
        .bind(client_id)
        .bind(now_ms)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(changed)
    }

    /// Notes a grant's use, at most once a minute per grant (a write per
    /// call would cost more than the answer is worth).
    pub async fn signin_touch(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE signin_grants SET last_used_at = $2 WHERE id = $1 AND last_used_at < $3",
        )
        .bind(id)
        .bind(now_ms)
        .bind(now_ms.saturating_sub(60_000))
        .execute(pool)
        .await
        .map(drop)?);
        Ok(())
    }

    /// The live grants, most recently used first (`mcp grants`).
    pub async fn signin_grants(&self) -> Result<Vec<GrantRow>, StoreError> {
        let sql = format!(
            "SELECT {GRANT_COLUMNS} FROM signin_grants g WHERE g.revoked_at IS NULL \
             ORDER BY g.last_used_at DESC"
        );
        let rows = on_pool!(self, pool => sqlx::query(&sql)
            .fetch_all(pool)
            .await?
            .iter()
            .map(grant_of)
            .collect::<Result<Vec<_>, _>>()?);
        Ok(rows)
    }
}
