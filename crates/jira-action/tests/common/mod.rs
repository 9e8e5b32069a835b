//! Black-box test harness: the real server and the Jira simulator, each on
//! a random port, talking HTTP.
//!
//! A suite runs against Jira Cloud, or against Data Center when its test
//! target's name ends in `_datacenter` (`tests/<suite>_datacenter.rs`
//! includes `<suite>.rs` as a module: the same file built a second time),
//! so the same scenarios hold for both.
#![allow(dead_code)]

use std::io::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub mod postgres;

use jira_action::app::{self, RunningServer};
use jira_action::config::{Config, FlavorSetting, GleanKeys, JiraCredentials};
use jira_sim::{Flavor, Sim, SimConfig, SimHandle, demo};
use secrecy::SecretString;
use serde_json::Value;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_TOKEN: &str = "sandbox-token";
pub const OAUTH_TOKEN: &str = "sandbox-oauth-token";

/// The Jira this suite runs against (see the module docs).
pub const FLAVOR: Flavor = if ends_with(env!("CARGO_CRATE_NAME").as_bytes(), b"_datacenter") {
    Flavor::DataCenter
} else {
    Flavor::Cloud
};

const fn ends_with(text: &[u8], suffix: &[u8]) -> bool {
    if suffix.len() > text.len() {
        return false;
    }
    let start = text.len() - suffix.len();
    let mut i = 0;
    while i < suffix.len() {
        if text[start + i] != suffix[i] {
            return false;
        }
        i += 1;
    }
    true
}

pub fn data_center() -> bool {
    FLAVOR == Flavor::DataCenter
}

/// The REST API path prefix of this suite's Jira.
pub fn api_prefix() -> &'static str {
    match FLAVOR {
        Flavor::Cloud => "/rest/api/3/",
        Flavor::DataCenter => "/rest/api/2/",
    }
}

/// The simulator's configuration for this suite's Jira: Data Center under
/// a context path, so that every URL the server builds must keep it.
pub fn sim_config() -> SimConfig {
    with_flavor(SimConfig::default())
}

/// `config` set to this suite's Jira.
pub fn with_flavor(mut config: SimConfig) -> SimConfig {
    config.flavor = FLAVOR;
    if data_center() {
        config.context_path = Some("/jira".into());
    }
    config
}

pub struct TestApp {
    pub base: String,
    pub sim: SimHandle,
    pub server: RunningServer,
    pub http: reqwest::Client,
    /// The server's "now": move it to pass windows, leases and expiries.
    pub clock: TestClock,
    /// Where the server's store file lives, for as long as the app does.
    pub store_dir: tempfile::TempDir,
}

/// The server's clock in tests: the real one, plus however far the test
/// moved it ahead, so that a test reaches an expiry without waiting.
#[derive(Clone, Default)]
pub struct TestClock {
    ahead_ms: Arc<AtomicI64>,
}

impl TestClock {
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).expect("a test's duration");
        self.ahead_ms.fetch_add(by, Ordering::SeqCst);
    }

    /// The clock to give the code under test.
    pub fn clock(&self) -> jira_action::store::Clock {
        let ahead = Arc::clone(&self.ahead_ms);
        Arc::new(move || jira_action::store::now_ms() + ahead.load(Ordering::SeqCst))
    }
}

/// The server in api-token mode against a fresh demo site.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_, _| {}).await
}

/// The server with configuration changes (given the simulator's handle).
pub async fn spawn_app_with(change: impl FnOnce(&mut Config, &SimHandle)) -> TestApp {
    spawn_app_with_sim(SimConfig::default(), change).await
}

/// The server against a simulator configured by the test, with this
/// suite's flavour applied to it.
pub async fn spawn_app_with_sim(
    sim_config: SimConfig,
    change: impl FnOnce(&mut Config, &SimHandle),
) -> TestApp {
    spawn_app_with_exact_sim(with_flavor(sim_config), change).await
}

/// The server against a simulator configured exactly as given.
pub async fn spawn_app_with_exact_sim(
    sim_config: SimConfig,
    change: impl FnOnce(&mut Config, &SimHandle),
) -> TestApp {
    let sim = Sim::spawn(sim_config).await.expect("simulator starts");
    let store_dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(&sim, store_dir.path());
    change(&mut config, &sim);
    config.validate().expect("valid test configuration");
    let clock = TestClock::default();
    let server = app::start_with_clock(config, clock.clock())
        .await
        .expect("server starts");
    TestApp {
        base: format!("http://{}", server.addr),
        sim,
        server,
        http: reqwest::Client::new(),
        clock,
        store_dir,
    }
}

/// The server with signatures on, glean-sim's shared key in a PEM file
/// (kept while the returned file lives).
pub async fn spawn_signed_app() -> (TestApp, tempfile::NamedTempFile) {
    let key = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(key.path(), glean_sim::TestSigner::shared().public_key_pem())
        .expect("write key");
    let path = key.path().to_owned();
    let app = spawn_app_with(move |config, _| {
        config.glean.keys = Some(GleanKeys::File(path));
    })
    .await;
    (app, key)
}

/// The test server's configuration against `sim`, its store a file in
/// `store_dir` (written through the production writer, as in service).
pub fn test_config(sim: &SimHandle, store_dir: &std::path::Path) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Config::default()
    };
    config.jira.url = Some(sim.base_url().parse().expect("url"));
    // Pinned: detection would cost a Jira call some tests count.
    if sim.sim.flavor() == Flavor::DataCenter {
        config.jira.flavor = FlavorSetting::DataCenter;
        config.jira.credentials = JiraCredentials::Pat {
            token: SecretString::from(demo::ADMIN_PAT),
        };
    } else {
        config.jira.flavor = FlavorSetting::Cloud;
        config.jira.credentials = JiraCredentials::ApiToken {
            email: ADMIN_EMAIL.into(),
            token: SecretString::from(ADMIN_TOKEN),
        };
    }
    config.jira.request_timeout = Duration::from_secs(1);
    config.jira.retry_budget = Duration::from_secs(3);
    // Signatures have tests of their own (signatures.rs).
    config.glean.keys = Some(GleanKeys::Unsigned);
    // A private store per server; the store's own tests also run on PostgreSQL.
    config.store.url = store_dir.join("store.db").display().to_string();
    config
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /create_issue` as `email` with a JSON body.
    pub async fn create(&self, email: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/create_issue"))
            .header("Glean-User-Email", email)
            .json(body)
            .send()
            .await
            .expect("server answers")
    }

    /// Like `create`, returning the status and the JSON body.
    pub async fn create_json(&self, email: &str, body: &Value) -> (u16, Value) {
        json_of(self.create(email, body).await).await
    }

    /// `GET` a path of the simulator's REST API (v3 on Cloud, v2 on Data
    /// Center) as the admin.
    pub async fn jira_get(&self, path: &str) -> Value {
        let request = match self.sim.sim.flavor() {
            Flavor::Cloud => self
                .http
                .get(format!("{}/rest/api/3/{path}", self.sim.base_url()))
                .basic_auth(ADMIN_EMAIL, Some(ADMIN_TOKEN)),
            Flavor::DataCenter => self
                .http
                .get(format!("{}/rest/api/2/{path}", self.sim.base_url()))
                .bearer_auth(demo::ADMIN_PAT),
        };
        request
            .send()
            .await
            .expect("sim answers")
            .json()
            .await
            .expect("json")
    }

    /// `POST` a JSON body to a path of the simulator's REST API as the
    /// admin (v3 on Cloud, v2 on Data Center).
    pub async fn jira_post(&self, path: &str, body: &Value) -> reqwest::Response {
        let request = match self.sim.sim.flavor() {
            Flavor::Cloud => self
                .http
                .post(format!("{}/rest/api/3/{path}", self.sim.base_url()))
                .basic_auth(ADMIN_EMAIL, Some(ADMIN_TOKEN)),
            Flavor::DataCenter => self
                .http
                .post(format!("{}/rest/api/2/{path}", self.sim.base_url()))
                .bearer_auth(demo::ADMIN_PAT),
        };
        request.json(body).send().await.expect("sim answers")
    }

    /// The issue as Jira stores it.
    pub async fn jira_issue(&self, key: &str) -> Value {
        self.jira_get(&format!("issue/{key}")).await
    }

    /// `POST /create_issue` with an `Authorization` header (passthrough).
    pub async fn create_with_auth(
        &self,
        email: &str,
        authorization: &str,
        body: &Value,
    ) -> (u16, Value) {
        let response = self
            .http
            .post(self.url("/create_issue"))
            .header("Glean-User-Email", email)
            .header("Authorization", authorization)
            .json(body)
            .send()
            .await
            .expect("server answers");
        json_of(response).await
    }

    /// What names the user of an email in Jira's user fields: the account
    /// id on Cloud, the username on Data Center (asked of the simulator
    /// over HTTP, as any client would).
    pub async fn account_id(&self, email: &str) -> String {
        let (query, field) = match self.sim.sim.flavor() {
            Flavor::Cloud => ("query", "accountId"),
            Flavor::DataCenter => ("username", "name"),
        };
        let users = self.jira_get(&format!("user/search?{query}={email}")).await;
        let users = users.as_array().expect("users");
        // Data Center's search also matches a prefix of other emails and
        // names; Cloud's exact-email query finds hidden emails too.
        let users: Vec<&Value> = users
            .iter()
            .filter(|u| {
                !data_center()
                    || u["emailAddress"]
                        .as_str()
                        .is_some_and(|e| e.eq_ignore_ascii_case(email))
            })
            .collect();
        assert_eq!(users.len(), 1, "exactly one account for {email}: {users:?}");
        users[0][field].as_str().expect(field).to_owned()
    }

    /// The reporter of a stored issue, as its user field names it.
    pub fn reporter_of(&self, key: &str) -> Option<String> {
        let issue = self.sim.sim.issue(key)?;
        match self.sim.sim.flavor() {
            Flavor::Cloud => issue.reporter,
            Flavor::DataCenter => issue.reporter_name,
        }
    }
}

/// A user field's value naming `id` (see [`TestApp::account_id`]).
pub fn user_ref(id: &str) -> Value {
    match FLAVOR {
        Flavor::Cloud => serde_json::json!({ "id": id }),
        Flavor::DataCenter => serde_json::json!({ "name": id }),
    }
}

/// The `[jira]` lines of a configuration file naming the server's own
/// credential for this suite's Jira at `url`.
pub fn jira_toml(url: &str) -> String {
    match FLAVOR {
        Flavor::Cloud => format!(
            "[jira]\nurl = \"{url}\"\nflavor = \"cloud\"\nauth = \"api-token\"\nemail = \"{ADMIN_EMAIL}\"\napi_token = \"{ADMIN_TOKEN}\"\n"
        ),
        Flavor::DataCenter => format!(
            "[jira]\nurl = \"{url}\"\nflavor = \"datacenter\"\nauth = \"pat\"\npat = \"{}\"\n",
            demo::ADMIN_PAT
        ),
    }
}

/// The command-line flags naming the server's own credential for this
/// suite's Jira.
pub fn credential_args() -> Vec<String> {
    let args: Vec<&str> = match FLAVOR {
        Flavor::Cloud => vec![
            "--flavor",
            "cloud",
            "--auth",
            "api-token",
            "--api-email",
            ADMIN_EMAIL,
            "--api-token",
            ADMIN_TOKEN,
        ],
        Flavor::DataCenter => vec![
            "--flavor",
            "datacenter",
            "--auth",
            "pat",
            "--jira-pat",
            demo::ADMIN_PAT,
        ],
    };
    args.into_iter().map(str::to_owned).collect()
}

/// The user a user field of a Jira issue names: `accountId` on Cloud,
/// `name` on Data Center.
pub fn user_in(field: &Value) -> Option<&str> {
    match FLAVOR {
        Flavor::Cloud => field["accountId"].as_str(),
        Flavor::DataCenter => field["name"].as_str(),
    }
}

pub async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Polls briefly for a condition that another task makes true.
pub async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Everything a `tracing` subscriber writes, for tests that read the log.
#[derive(Clone, Default)]
pub struct CapturedLog(pub Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    /// The log so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The start of a `POST /create_issue` as alice whose body never arrives in
/// full: the request holds its slot until its deadline or until the client
/// goes.
pub const STALLED_CREATE: &[u8] = b"POST /create_issue HTTP/1.1\r\nHost: test\r\n\
    Glean-User-Email: alice@example.com\r\nContent-Type: application/json\r\n\
    Content-Length: 1000\r\n\r\n{\"pid\": \"D";
