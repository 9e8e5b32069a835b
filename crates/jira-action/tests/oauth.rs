//! The OAuth 2.0 (3LO) connection the server holds: login, refresh before
//! expiry (one at a time across tasks and processes), re-consent.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use jira::{AccessibleResource, OAuthApp};
use jira_action::oauth::crypto::TokenCipher;
use jira_action::oauth::login::{Prompt, login};
use jira_action::oauth::{TokenError, TokenManager};
use jira_action::store::{STATUS_RECONSENT, Store};
use jira_sim::{OAuthConfig, Sim, SimConfig, SimHandle, demo};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

fn cipher() -> TokenCipher {
    let key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    TokenCipher::from_base64(&SecretString::from(key)).expect("key")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

fn app(sim: &SimHandle) -> OAuthApp {
    OAuthApp {
        client_id: demo::OAUTH_CLIENT_ID.into(),
        client_secret: SecretString::from(demo::OAUTH_CLIENT_SECRET),
        auth_url: sim.base_url().parse().expect("url"),
        redirect_uri: format!("http://127.0.0.1:{}/oauth/callback", free_port())
            .parse()
            .expect("url"),
        scopes: vec![
            "read:jira-work".into(),
            "write:jira-work".into(),
            "read:jira-user".into(),
            "offline_access".into(),
        ],
    }
}

/// Plays the admin's browser: follows the consent redirect to the listener.
struct Browser;

impl Prompt for Browser {
    fn open(&self, url: &Url) {
        let url = url.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client");
            let consent = http.get(url).send().await.expect("consent page");
            let location = consent.headers()["location"]
                .to_str()
                .expect("ascii")
                .to_owned();
            http.get(location).send().await.expect("callback");
        });
    }

    fn choose(&self, _: &[AccessibleResource]) -> Option<usize> {
        None
    }
}

async fn sim_with_ttl(ttl: Duration) -> SimHandle {
    Sim::spawn(SimConfig {
        oauth: OAuthConfig {
            access_token_ttl: ttl,
            ..OAuthConfig::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("sim")
}

async fn store(dir: &tempfile::TempDir) -> Store {
    let path = dir.path().join("store.db");
    Store::open(path.to_str().expect("utf-8"), 4)
        .await
        .expect("store")
}

async fn connected(ttl: Duration) -> (SimHandle, tempfile::TempDir, Store, OAuthApp) {
    let sim = sim_with_ttl(ttl).await;
    let dir = tempfile::tempdir().expect("dir");
    let store = store(&dir).await;
    let app = app(&sim);
    let api: Url = sim.base_url().parse().expect("url");
    login(
        &app,
        &api,
        &store,
        &cipher(),
        None,
        &Browser,
        Duration::from_secs(10),
    )
    .await
    .expect("login");
    (sim, dir, store, app)
}

#[tokio::test]
async fn login_stores_a_sealed_connection_to_the_chosen_site() {
    let (sim, _dir, store, _) = connected(Duration::from_secs(3600)).await;
    let row = store.oauth_get().await.expect("read").expect("stored");
    assert_eq!(row.cloud_id, demo::CLOUD_ID);
    assert_eq!(row.site_url, sim.base_url());
    assert!(row.scopes.contains("offline_access"));
    assert_eq!(row.status, "ok");
    let access = cipher().open(&row.access_token).expect("opens");
    assert!(!row.access_token.contains(access.expose_secret()), "sealed");
    assert!(row.refresh_token.is_some());
}

#[tokio::test]
async fn a_token_expiring_under_load_is_refreshed_exactly_once() {
    let (sim, _dir, store, app) = connected(Duration::from_secs(2)).await;
    // Two managers stand for two processes sharing the store.
    let managers: Vec<Arc<TokenManager>> = futures_join(2, |_| {
        TokenManager::open(
            app.clone(),
            store.clone(),
            cipher(),
            Duration::from_secs(300),
        )
    })
    .await
    .into_iter()
    .map(|m| Arc::new(m.expect("manager")))
    .collect();
    let first = managers[0].access_token().await.expect("token");
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let manager = Arc::clone(&managers[i % 2]);
        tasks.push(tokio::spawn(async move { manager.access_token().await }));
    }
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(
            task.await
                .expect("task")
                .expect("token")
                .expose_secret()
                .to_owned(),
        );
    }
    assert_eq!(
        sim.sim.oauth_refreshes(),
        1,
        "one refresh for 40 requests in 2 processes"
    );
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "everyone got the new token"
    );
    assert_ne!(tokens[0], first.expose_secret());
    // The rotated refresh token was stored: a later refresh works.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    managers[1].access_token().await.expect("second refresh");
    assert_eq!(sim.sim.oauth_refreshes(), 2);
}

async fn futures_join<T, F, Fut>(n: usize, f: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut out = Vec::new();
    for i in 0..n {
        out.push(f(i).await);
    }
    out
}

#[tokio::test]
async fn a_refused_refresh_token_means_reconsent() {
    let (_sim, _dir, store, app) = connected(Duration::from_secs(1)).await;
    // Replace the refresh token with one Atlassian never issued.
    let mut row = store.oauth_get().await.expect("read").expect("stored");
    row.refresh_token = Some(cipher().seal(&SecretString::from("revoked")));
    store.oauth_put(&row).await.expect("write");
    let manager = TokenManager::open(app, store.clone(), cipher(), Duration::from_secs(300))
        .await
        .expect("manager");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert!(matches!(
        manager.access_token().await,
        Err(TokenError::ReconsentNeeded)
    ));
    assert!(manager.reconsent_needed());
    let row = store.oauth_get().await.expect("read").expect("stored");
    assert_eq!(row.status, STATUS_RECONSENT, "every process sees it");
    // And no further refresh is attempted.
    assert!(matches!(
        manager.access_token().await,
        Err(TokenError::ReconsentNeeded)
    ));
}

#[tokio::test]
async fn a_forged_redirect_is_refused() {
    let sim = sim_with_ttl(Duration::from_secs(3600)).await;
    let dir = tempfile::tempdir().expect("dir");
    let store = store(&dir).await;
    let app = app(&sim);
    struct Forger(Url);
    impl Prompt for Forger {
        fn open(&self, _: &Url) {
            let mut callback = self.0.clone();
            callback.set_query(Some("code=stolen&state=not-yours"));
            tokio::spawn(async move {
                let _ = reqwest::get(callback).await;
            });
        }
        fn choose(&self, _: &[AccessibleResource]) -> Option<usize> {
            None
        }
    }
    let api: Url = sim.base_url().parse().expect("url");
    let result = login(
        &app,
        &api,
        &store,
        &cipher(),
        None,
        &Forger(app.redirect_uri.clone()),
        Duration::from_secs(5),
    )
    .await;
    assert!(matches!(
        result,
        Err(jira_action::oauth::login::LoginError::StateMismatch)
    ));
    assert!(store.oauth_get().await.expect("read").is_none());
}
