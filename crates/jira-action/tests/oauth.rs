//! The OAuth 2.0 (3LO) connection the server holds: login, refresh before
//! expiry (one at a time across tasks and processes), re-consent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use jira::{AccessibleResource, OAuthApp};
use jira_action::app::{self, RunningServer};
use jira_action::config::{Config, JiraCredentials};
use jira_action::oauth::STATUS_RECONSENT;
use jira_action::oauth::crypto::TokenCipher;
use jira_action::oauth::login::{Prompt, login};
use jira_action::oauth::{TokenError, TokenManager};
use jira_action::store::Store;
use jira_sim::{OAuthConfig, Sim, SimConfig, SimHandle, demo};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

use common::TestClock;

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

/// The admin consents in the browser: the whole `oauth login` flow.
async fn consent(sim: &SimHandle, app: &OAuthApp, store: &Store) {
    let api: Url = sim.base_url().parse().expect("url");
    login(
        app,
        &api,
        store,
        &cipher(),
        None,
        &Browser,
        Duration::from_secs(10),
    )
    .await
    .expect("login");
}

/// Time passes for the server and Atlassian alike.
fn advance(clock: &TestClock, sim: &SimHandle, by: Duration) {
    clock.advance(by);
    sim.sim.advance_clock(by);
}

async fn connected(ttl: Duration) -> (SimHandle, tempfile::TempDir, Store, OAuthApp) {
    let sim = sim_with_ttl(ttl).await;
    let dir = tempfile::tempdir().expect("dir");
    let store = store(&dir).await;
    let app = app(&sim);
    consent(&sim, &app, &store).await;
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
    let clock = TestClock::default();
    // Two managers stand for two processes sharing the store.
    let managers: Vec<Arc<TokenManager>> = futures_join(2, |_| {
        TokenManager::open(
            app.clone(),
            store.clone(),
            cipher(),
            Duration::from_secs(300),
            clock.clock(),
        )
    })
    .await
    .into_iter()
    .map(|m| Arc::new(m.expect("manager")))
    .collect();
    let first = managers[0].access_token().await.expect("token");
    advance(&clock, &sim, Duration::from_millis(2_100));
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
    advance(&clock, &sim, Duration::from_millis(2_100));
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
    let (sim, _dir, store, app) = connected(Duration::from_secs(1)).await;
    let clock = TestClock::default();
    // Replace the refresh token with one Atlassian never issued.
    let mut row = store.oauth_get().await.expect("read").expect("stored");
    row.refresh_token = Some(cipher().seal(&SecretString::from("revoked")));
    store.oauth_put(&row).await.expect("write");
    let manager = TokenManager::open(
        app,
        store.clone(),
        cipher(),
        Duration::from_secs(300),
        clock.clock(),
    )
    .await
    .expect("manager");
    advance(&clock, &sim, Duration::from_millis(1_100));
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

fn key_base64() -> SecretString {
    SecretString::from(base64::engine::general_purpose::STANDARD.encode([42u8; 32]))
}

/// The server in `oauth` mode on the connection `login` stored in `dir`.
fn oauth_config(sim: &SimHandle, dir: &tempfile::TempDir) -> Config {
    let mut config = common::test_config(sim, dir.path());
    config.jira.credentials = JiraCredentials::Oauth;
    // Nothing but the stored connection says where Jira is.
    config.jira.url = None;
    config.oauth.client_id = Some(demo::OAUTH_CLIENT_ID.into());
    config.oauth.client_secret = Some(SecretString::from(demo::OAUTH_CLIENT_SECRET));
    config.oauth.auth_url = sim.base_url().parse().expect("url");
    config.oauth.api_url = sim.base_url().parse().expect("url");
    config.oauth.token_key = Some(key_base64());
    config.store.url = dir
        .path()
        .join("store.db")
        .to_str()
        .expect("utf-8")
        .to_owned();
    config.validate().expect("valid oauth configuration");
    config
}

async fn post(server: &RunningServer, email: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{}/create_issue", server.addr))
        .header("Glean-User-Email", email)
        .json(body)
        .send()
        .await
        .expect("answers");
    common::json_of(response).await
}

async fn get(server: &RunningServer, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://{}{path}", server.addr))
        .await
        .expect("answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("text"))
}

fn issue(summary: &str) -> Value {
    json!({"pid": "DEMO", "issuetype": "Task", "summary": summary})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_files_through_the_gateway_and_refreshes_once_under_load() {
    let (sim, dir, _store, _) = connected(Duration::from_secs(3)).await;
    let clock = TestClock::default();
    let server = app::start_with_clock(oauth_config(&sim, &dir), clock.clock())
        .await
        .expect("server starts");
    let (status, first) = post(&server, demo::ALICE_EMAIL, &issue("With the login's token")).await;
    assert_eq!(status, 200, "{first}");
    // The browse link is on the site the connection chose, not the gateway.
    let url = first["resultURL"].as_str().expect("url");
    assert!(
        url.starts_with(&format!("{}/browse/", sim.base_url())),
        "{url}"
    );
    assert!(!url.contains("/ex/jira/"), "{url}");
    let stored = sim
        .sim
        .issue(first["key"].as_str().expect("key"))
        .expect("stored");
    assert_eq!(stored.reporter.as_deref(), Some(demo::ALICE_ACCOUNT_ID));
    assert_eq!(
        stored.creator,
        demo::ADMIN_ACCOUNT_ID,
        "the consenting admin's token"
    );
    assert_eq!(sim.sim.oauth_refreshes(), 0);

    // Into the refresh margin (a quarter of the 3 s lifetime), then a burst.
    advance(&clock, &sim, Duration::from_millis(2_400));
    let server = Arc::new(server);
    let mut tasks = Vec::new();
    for n in 0..40 {
        let server = Arc::clone(&server);
        tasks.push(tokio::spawn(async move {
            post(&server, demo::ALICE_EMAIL, &issue(&format!("Burst {n}"))).await
        }));
    }
    for task in tasks {
        let (status, answer) = task.await.expect("task");
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(
        sim.sim.oauth_refreshes(),
        1,
        "one refresh for the whole burst"
    );
    assert_eq!(sim.sim.issues().len(), 41);

    let (status, ready) = get(&server, "/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert!(ready.contains(r#""oauth":"ok""#), "{ready}");
    let (_, metrics) = get(&server, "/metrics").await;
    assert!(
        metrics.contains("jira_action_oauth_reconsent_needed 0"),
        "{metrics}"
    );
    let expiry = metrics
        .lines()
        .find_map(|l| l.strip_prefix("jira_action_token_expiry_seconds "))
        .and_then(|v| v.parse::<f64>().ok())
        .expect("token expiry exported");
    assert!((0.0..=3.0).contains(&expiry), "{expiry}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_connection_refuses_clearly_until_an_admin_consents_again() {
    let (sim, dir, store, app) = connected(Duration::from_secs(1)).await;
    let mut row = store.oauth_get().await.expect("read").expect("stored");
    row.refresh_token = Some(cipher().seal(&SecretString::from("revoked")));
    store.oauth_put(&row).await.expect("write");
    let clock = TestClock::default();
    let server = app::start_with_clock(oauth_config(&sim, &dir), clock.clock())
        .await
        .expect("server starts");
    advance(&clock, &sim, Duration::from_millis(1_100));

    let (status, answer) = post(&server, demo::ALICE_EMAIL, &issue("Not now")).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (503, Some("oauth_reconsent_needed")),
        "{answer}"
    );
    assert!(
        answer["message"]
            .as_str()
            .expect("message")
            .contains("oauth login")
    );
    assert!(sim.sim.issues().is_empty(), "nothing created");
    let (status, ready) = get(&server, "/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert!(ready.contains("oauth login"), "{ready}");
    let (_, metrics) = get(&server, "/metrics").await;
    assert!(
        metrics.contains("jira_action_oauth_reconsent_needed 1"),
        "{metrics}"
    );

    // The admin consents again; the running server picks it up.
    consent(&sim, &app, &store).await;
    let (status, answer) = post(&server, demo::ALICE_EMAIL, &issue("Now")).await;
    assert_eq!(status, 200, "{answer}");
    let (_, metrics) = get(&server, "/metrics").await;
    assert!(
        metrics.contains("jira_action_oauth_reconsent_needed 0"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_token_jira_ends_early_is_refreshed_by_the_next_request() {
    let (sim, dir, store, _app) = connected(Duration::from_secs(3600)).await;
    let server = app::start(oauth_config(&sim, &dir))
        .await
        .expect("server starts");
    let (status, answer) = post(&server, demo::ALICE_EMAIL, &issue("Before")).await;
    assert_eq!(status, 200, "{answer}");
    let before = store.oauth_get().await.expect("read").expect("stored");

    // Jira ends the token an hour early (revoked, or a clock ahead).
    sim.sim.expire_access_tokens();
    let (status, answer) = post(&server, demo::ALICE_EMAIL, &issue("Refused")).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("jira_unauthorized")),
        "{answer}"
    );
    let row = store.oauth_get().await.expect("read").expect("stored");
    assert!(row.expires_at_ms < before.expires_at_ms, "marked expired");

    // Not an hour of 401s: the next request refreshes, once.
    let (status, answer) = post(&server, demo::ALICE_EMAIL, &issue("After")).await;
    assert_eq!(status, 200, "{answer}");
    let (status, _) = post(&server, demo::ALICE_EMAIL, &issue("And after")).await;
    assert_eq!(status, 200);
    assert_eq!(sim.sim.oauth_refreshes(), 1);
    let row = store.oauth_get().await.expect("read").expect("stored");
    assert_ne!(row.access_token, before.access_token);
    assert_eq!(row.status, "ok");
}

#[tokio::test]
async fn without_a_connection_the_server_does_not_start() {
    let sim = sim_with_ttl(Duration::from_secs(3600)).await;
    let dir = tempfile::tempdir().expect("dir");
    let err = app::start(oauth_config(&sim, &dir))
        .await
        .err()
        .expect("refused");
    let text = format!("{err:#}");
    assert!(text.contains("oauth login"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_the_oauth_connection() {
    use jira_action::doctor::{self, Options, Status};
    let sim = sim_with_ttl(Duration::from_secs(3600)).await;
    let dir = tempfile::tempdir().expect("dir");
    let config = oauth_config(&sim, &dir);
    let status_of = |findings: &[doctor::Finding], check: &str| {
        findings
            .iter()
            .find(|f| f.check == check)
            .map(|f| (f.status, f.detail.clone()))
    };
    let findings = doctor::run(&config, &Options::default()).await;
    let (status, detail) = status_of(&findings, "oauth connection").expect("checked");
    assert_eq!(status, Status::Fail);
    assert!(detail.contains("oauth login"), "{detail}");
    assert!(doctor::failed(&findings));
    // The store the connection is read from is checked all the same.
    assert_eq!(
        status_of(&findings, "store").map(|(status, _)| status),
        Some(Status::Pass)
    );

    let store = store(&dir).await;
    consent(&sim, &app(&sim), &store).await;
    let findings = doctor::run(&config, &Options::default()).await;
    for check in ["oauth connection", "token", "scopes", "store"] {
        let (status, detail) = status_of(&findings, check).expect("checked");
        assert_eq!(status, Status::Pass, "{check}: {detail}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_status_prints_the_connection_and_never_a_token() {
    let (sim, dir, store, _) = connected(Duration::from_secs(3600)).await;
    let store_path = dir.path().join("store.db");
    let status = |key: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_jira-action"));
        command
            .args(["oauth", "status", "--store-url"])
            .arg(&store_path)
            .env_remove("JIRA_ACTION_TOKEN_KEY");
        if let Some(key) = key {
            command.env("JIRA_ACTION_TOKEN_KEY", key);
        }
        let out = command.output().expect("runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let key = key_base64();
    let (ok, text) = status(Some(key.expose_secret()));
    assert!(ok, "{text}");
    assert!(text.contains(&sim.base_url()), "{text}");
    assert!(text.contains(demo::CLOUD_ID), "{text}");
    assert!(text.contains("offline_access"), "{text}");
    assert!(text.contains("opens the stored tokens"), "{text}");
    let row = store.oauth_get().await.expect("read").expect("stored");
    let access = cipher().open(&row.access_token).expect("opens");
    assert!(!text.contains(access.expose_secret()), "no token printed");
    // Another machine's key is told apart from a missing one.
    let other = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let (_, text) = status(Some(&other));
    assert!(text.contains("does NOT open"), "{text}");

    let mut row = row;
    row.status = STATUS_RECONSENT.into();
    store.oauth_put(&row).await.expect("write");
    let (ok, text) = status(Some(key.expose_secret()));
    assert!(!ok, "re-consent needed is a failure: {text}");
    assert!(text.contains("oauth login"), "{text}");
}

/// A body that stops arriving is the caller's fault (408), also where the
/// call would first fetch the connection's token: the deadline has passed
/// before the core starts, and nothing reaches Jira.
#[tokio::test]
async fn a_stalled_body_is_answered_408_in_oauth_mode() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (sim, dir, _store, _) = connected(Duration::from_secs(3600)).await;
    let mut config = oauth_config(&sim, &dir);
    config.limits.request_timeout = Duration::from_millis(500);
    let server = app::start(config).await.expect("server starts");
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connects");
    stream
        .write_all(common::STALLED_CREATE)
        .await
        .expect("write");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed before an answer");
            answer.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("an answer in time");
    let head = String::from_utf8_lossy(&answer);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(sim.sim.issues().is_empty(), "nothing created");
}
