//! Atlassian as the place people sign in: its OAuth 2.0 (3LO) consent for
//! the single scope `read:me`, the code exchanged at its token endpoint,
//! and `GET /me` for who signed in.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("Atlassian's token endpoint: {0}")]
    Token(String),
    #[error("Atlassian's /me: {0}")]
    Me(String),
}

/// The sign-in app, as registered with Atlassian.
pub struct Atlassian {
    pub client_id: String,
    pub client_secret: SecretString,
    pub auth_url: Url,
    pub api_url: Url,
    /// `<public_url>/oauth/atlassian/callback`.
    pub callback: String,
    pub http: reqwest::Client,
}

impl std::fmt::Debug for Atlassian {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Atlassian({})", self.client_id)
    }
}

/// Who signed in, as `/me` says.
#[derive(Clone, Debug, Deserialize)]
pub struct Me {
    pub account_id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// `active`, `inactive` or `closed`.
    #[serde(default)]
    pub account_status: Option<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
}

impl Atlassian {
    /// Where the browser goes to sign in; `state` comes back with the code.
    pub fn authorize_url(&self, state: &str) -> Url {
        let mut url = self.auth_url.clone();
        url.set_path(&format!("{}/authorize", url.path().trim_end_matches('/')));
        url.query_pairs_mut()
            .append_pair("audience", "api.atlassian.com")
            .append_pair("client_id", &self.client_id)
            .append_pair("scope", "read:me")
            .append_pair("redirect_uri", &self.callback)
            .append_pair("state", state)
            .append_pair("response_type", "code")
            .append_pair("prompt", "consent");
        url
    }

    /// The code for an access token (used once, for `/me`, then dropped).
    async fn exchange(&self, code: &str) -> Result<SecretString, UpstreamError> {
        let mut url = self.auth_url.clone();
        url.set_path(&format!("{}/oauth/token", url.path().trim_end_matches('/')));
        let body = serde_json::json!({
            "grant_type": "authorization_code",
            "client_id": self.client_id,
            "client_secret": self.client_secret.expose_secret(),
            "code": code,
            "redirect_uri": self.callback,
        });
        let response = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| UpstreamError::Token(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(UpstreamError::Token(format!(
                "answered {}",
                response.status()
            )));
        }
        let answer: TokenAnswer = response
            .json()
            .await
            .map_err(|e| UpstreamError::Token(e.without_url().to_string()))?;
        Ok(SecretString::from(answer.access_token))
    }

    /// Who the code belongs to.
    pub async fn person(&self, code: &str) -> Result<Me, UpstreamError> {
        let token = self.exchange(code).await?;
        let mut url = self.api_url.clone();
        url.set_path(&format!("{}/me", url.path().trim_end_matches('/')));
        let response = self
            .http
            .get(url)
            .bearer_auth(token.expose_secret())
            .send()
            .await
            .map_err(|e| UpstreamError::Me(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(UpstreamError::Me(format!("answered {}", response.status())));
        }
        response
            .json()
            .await
            .map_err(|e| UpstreamError::Me(e.without_url().to_string()))
    }
}
