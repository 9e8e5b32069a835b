//! The OAuth connection row (`oauth_tokens`): what `oauth login` writes and
//! what every process refreshes under a lease (the SQL is the store's).

/// The stored connection; tokens still sealed.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct OAuthRow {
    pub site_url: String,
    pub cloud_id: String,
    pub scopes: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    #[sqlx(rename = "expires_at")]
    pub expires_at_ms: i64,
    #[sqlx(rename = "refreshed_at")]
    pub refreshed_at_ms: i64,
    /// `ok` or `reconsent_needed`.
    pub status: String,
}

pub const STATUS_OK: &str = "ok";
pub const STATUS_RECONSENT: &str = "reconsent_needed";
