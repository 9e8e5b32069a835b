//! What sign-in keeps in the store: registered clients, authorizations in
//! progress, grants and their codes (the SQL is the store's).

/// A client that registered itself (RFC 7591).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRow {
    pub client_id: String,
    pub name: Option<String>,
    pub redirect_uris: Vec<String>,
    pub created_at_ms: i64,
}

/// An authorization between `authorize` and the consent.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
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
    #[sqlx(rename = "expires_at")]
    pub expires_at_ms: i64,
    /// What the OpenID Connect upstream's ID token must carry as `nonce`.
    pub upstream_nonce: Option<String>,
    /// The PKCE verifier the OpenID Connect upstream's code is redeemed
    /// with.
    pub upstream_verifier: Option<String>,
}

/// What a person allowed a client.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct GrantRow {
    pub id: String,
    pub client_id: String,
    pub account_id: String,
    pub email: String,
    pub name: Option<String>,
    /// The one resource its tokens are good for (this server's `/mcp`).
    pub resource: String,
    #[sqlx(rename = "created_at")]
    pub created_at_ms: i64,
    #[sqlx(rename = "last_used_at")]
    pub last_used_at_ms: i64,
    #[sqlx(rename = "revoked_at")]
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
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CodeRow {
    pub hash: String,
    pub grant_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    #[sqlx(rename = "expires_at")]
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
    /// As the `kind` column stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}
