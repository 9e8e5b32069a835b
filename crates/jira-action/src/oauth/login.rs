//! `jira-action oauth login`: the authorization-code flow, run once by an
//! admin. The consent redirect comes back to a listener this command opens
//! on the app's redirect URI (a loopback address); the code is exchanged,
//! the site chosen from `accessible-resources`, and the sealed tokens
//! stored for every server process to use.

use std::time::Duration;

use axum::extract::{Query, State};
use axum::routing::get;
use jira::{AccessibleResource, OAuthApp};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use url::Url;

use super::crypto::TokenCipher;
use crate::oauth::{OAuthRow, STATUS_OK};
use crate::store::{Store, now_ms};

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(
        "the redirect URI must be http://127.0.0.1:PORT/... or http://localhost:PORT/... for `oauth login`: {0}"
    )]
    RedirectUri(String),
    #[error("cannot listen for the consent redirect: {0}")]
    Listen(std::io::Error),
    #[error("no consent arrived within {0:?}")]
    TimedOut(Duration),
    #[error("the consent redirect did not carry this login's state (a forged or stale redirect)")]
    StateMismatch,
    #[error("consent was refused: {0}")]
    Refused(String),
    #[error(transparent)]
    OAuth(#[from] jira::OAuthError),
    #[error("cannot list the token's Jira sites: {0}")]
    Sites(String),
    #[error("the token reaches no Jira site")]
    NoSite,
    #[error("no accessible site matches {0}")]
    UnknownSite(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// How the command talks to the admin.
pub trait Prompt {
    /// Shows the URL to open in a browser.
    fn open(&self, url: &Url);
    /// Picks one of several sites; `None` to give up.
    fn choose(&self, sites: &[AccessibleResource]) -> Option<usize>;
}

/// Runs the flow and stores the connection; returns the chosen site.
pub async fn login(
    app: &OAuthApp,
    api_url: &Url,
    store: &Store,
    cipher: &TokenCipher,
    site: Option<&str>,
    prompt: &dyn Prompt,
    timeout: Duration,
) -> Result<AccessibleResource, LoginError> {
    let redirect = &app.redirect_uri;
    let loopback = matches!(
        redirect.host_str(),
        Some("127.0.0.1" | "localhost" | "[::1]")
    );
    let port = redirect.port_or_known_default();
    let (true, Some(port)) = (loopback && redirect.scheme() == "http", port) else {
        return Err(LoginError::RedirectUri(redirect.to_string()));
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(LoginError::Listen)?;
    let (sender, mut received) = mpsc::channel::<Callback>(1);
    let router = axum::Router::new()
        .route(redirect.path(), get(callback))
        .with_state(sender);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });

    let state = uuid::Uuid::new_v4().to_string();
    prompt.open(&app.authorize_url(&state));
    let arrived = tokio::time::timeout(timeout, received.recv()).await;
    let _ = stop.send(());
    let _ = server.await;
    let callback = arrived
        .map_err(|_| LoginError::TimedOut(timeout))?
        .ok_or(LoginError::TimedOut(timeout))?;
    if let Some(error) = callback.error {
        return Err(LoginError::Refused(error));
    }
    if callback.state.as_deref() != Some(state.as_str()) {
        return Err(LoginError::StateMismatch);
    }
    let code = callback.code.ok_or(LoginError::Refused("no code".into()))?;

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| LoginError::Sites(e.to_string()))?;
    let tokens = app.exchange_code(&http, &code).await?;
    // The lifetime counts from the answer.
    let refreshed_at_ms = now_ms();
    let sites = accessible_resources(&http, api_url, &tokens.access_token).await?;
    let chosen = match (site, sites.len()) {
        (_, 0) => return Err(LoginError::NoSite),
        (Some(wanted), _) => sites
            .iter()
            .position(|s| same_site(&s.url, wanted) || s.id == wanted)
            .ok_or_else(|| LoginError::UnknownSite(wanted.to_owned()))?,
        (None, 1) => 0,
        (None, _) => prompt.choose(&sites).ok_or(LoginError::NoSite)?,
    };
    let resource = sites[chosen].clone();
    store
        .oauth_put(&OAuthRow {
            site_url: resource.url.trim_end_matches('/').to_owned(),
            cloud_id: resource.id.clone(),
            scopes: tokens.scope.clone(),
            access_token: cipher.seal(&tokens.access_token),
            refresh_token: tokens.refresh_token.as_ref().map(|t| cipher.seal(t)),
            expires_at_ms: refreshed_at_ms
                .saturating_add(i64::try_from(tokens.expires_in.as_millis()).unwrap_or(i64::MAX)),
            refreshed_at_ms,
            status: STATUS_OK.to_owned(),
        })
        .await?;
    Ok(resource)
}

async fn callback(
    State(sender): State<mpsc::Sender<Callback>>,
    Query(callback): Query<Callback>,
) -> &'static str {
    let _ = sender.try_send(callback);
    "jira-action: consent received. You can close this window."
}

fn same_site(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

async fn accessible_resources(
    http: &reqwest::Client,
    api_url: &Url,
    token: &secrecy::SecretString,
) -> Result<Vec<AccessibleResource>, LoginError> {
    use secrecy::ExposeSecret;
    let mut url = api_url.clone();
    url.set_path("/oauth/token/accessible-resources");
    let response = http
        .get(url)
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .map_err(|e| LoginError::Sites(e.without_url().to_string()))?;
    if !response.status().is_success() {
        return Err(LoginError::Sites(format!("status {}", response.status())));
    }
    response
        .json()
        .await
        .map_err(|e| LoginError::Sites(e.without_url().to_string()))
}
