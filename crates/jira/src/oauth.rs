//! Atlassian OAuth 2.0 (3LO): the authorization URL, the code exchange and
//! the refresh grant. Refresh tokens rotate: every refresh answers a new
//! one, which the caller must persist before using the new access token.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use url::Url;

/// An OAuth app (from developer.atlassian.com) and where its tokens come
/// from.
#[derive(Clone, Debug)]
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: SecretString,
    /// `https://auth.atlassian.com` (the simulator in tests).
    pub auth_url: Url,
    /// Where Atlassian sends the browser back with the code.
    pub redirect_uri: Url,
    pub scopes: Vec<String>,
}

/// What the token endpoint answered.
#[derive(Clone, Debug)]
pub struct TokenSet {
    pub access_token: SecretString,
    /// Absent without the `offline_access` scope.
    pub refresh_token: Option<SecretString>,
    /// The access token's lifetime from the answer, for the caller to add
    /// to its own clock.
    pub expires_in: Duration,
    pub scope: String,
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The code or refresh token is unknown, used up or revoked: a person
    /// must consent again (`jira-action oauth login`).
    #[error("invalid_grant: consent is needed again")]
    InvalidGrant,
    /// The app's credentials or the request were refused.
    #[error("the token endpoint refused the request ({status}: {error})")]
    Refused { status: u16, error: String },
    #[error("the token endpoint could not be reached: {0}")]
    Transport(String),
    #[error("unexpected answer from the token endpoint: {0}")]
    Decode(String),
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    expires_in: u64,
    #[serde(default)]
    scope: String,
}

#[derive(Deserialize, Default)]
struct ErrorAnswer {
    #[serde(default)]
    error: String,
}

impl OAuthApp {
    /// The URL a person opens to consent (`prompt=consent` so the scopes
    /// are shown every time, `audience=api.atlassian.com` for the gateway).
    pub fn authorize_url(&self, state: &str) -> Url {
        let mut url = self.auth_url.clone();
        url.set_path("/authorize");
        url.query_pairs_mut()
            .append_pair("audience", "api.atlassian.com")
            .append_pair("client_id", &self.client_id)
            .append_pair("scope", &self.scopes.join(" "))
            .append_pair("redirect_uri", self.redirect_uri.as_str())
            .append_pair("state", state)
            .append_pair("response_type", "code")
            .append_pair("prompt", "consent");
        url
    }

    /// Exchanges the code from the consent redirect for tokens.
    pub async fn exchange_code(
        &self,
        http: &reqwest::Client,
        code: &str,
    ) -> Result<TokenSet, OAuthError> {
        self.token_request(
            http,
            json!({
                "grant_type": "authorization_code",
                "client_id": self.client_id,
                "client_secret": self.client_secret.expose_secret(),
                "code": code,
                "redirect_uri": self.redirect_uri.as_str(),
            }),
        )
        .await
    }

    /// Trades a refresh token for a new access token and a new refresh
    /// token (the old one stops working soon after).
    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        refresh_token: &SecretString,
    ) -> Result<TokenSet, OAuthError> {
        self.token_request(
            http,
            json!({
                "grant_type": "refresh_token",
                "client_id": self.client_id,
                "client_secret": self.client_secret.expose_secret(),
                "refresh_token": refresh_token.expose_secret(),
            }),
        )
        .await
    }

    async fn token_request(
        &self,
        http: &reqwest::Client,
        body: serde_json::Value,
    ) -> Result<TokenSet, OAuthError> {
        let mut url = self.auth_url.clone();
        url.set_path("/oauth/token");
        let response = http
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| OAuthError::Transport(e.without_url().to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| OAuthError::Transport(e.without_url().to_string()))?;
        if !status.is_success() {
            let answer: ErrorAnswer = serde_json::from_slice(&bytes).unwrap_or_default();
            return Err(if answer.error == "invalid_grant" {
                OAuthError::InvalidGrant
            } else {
                OAuthError::Refused {
                    status: status.as_u16(),
                    error: answer.error,
                }
            });
        }
        let answer: TokenAnswer =
            serde_json::from_slice(&bytes).map_err(|e| OAuthError::Decode(e.to_string()))?;
        Ok(TokenSet {
            access_token: SecretString::from(answer.access_token),
            refresh_token: answer.refresh_token.map(SecretString::from),
            expires_in: Duration::from_secs(answer.expires_in),
            scope: answer.scope,
        })
    }
}
