//! What `deploy/` ships: the example configurations pass the real parser
//! and validation (so none can rot) and hold no secret, and the health
//! check the container image runs tells a live server from a dead one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use jira_action::config::{AuthMode, Config, GleanKeys, Overrides};

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// What the environment gives a deployment: the secret the example says
/// comes from a `JIRA_ACTION_*` variable, laid over the file as the
/// command line lays it (a missing credential stops the read itself).
fn secrets_from_the_environment(file: &toml::Table) -> Overrides {
    let mut overrides = Overrides::default();
    let auth = file
        .get("jira")
        .and_then(|jira| jira.get("auth"))
        .and_then(toml::Value::as_str)
        .unwrap_or("passthrough");
    let key = match auth {
        "api-token" => Some("jira.api_token"),
        "pat" => Some("jira.pat"),
        "password" => Some("jira.password"),
        "oauth" => Some("oauth.client_secret"),
        _ => None,
    };
    if let Some(key) = key {
        overrides.set(key, "from-the-environment");
    }
    overrides
}

/// Whether the file itself sets `section.key`.
fn sets(file: &toml::Table, section: &str, key: &str) -> bool {
    file.get(section).and_then(|table| table.get(key)).is_some()
}

#[test]
fn every_example_configuration_parses_validates_and_holds_no_secret() {
    let files = examples();
    let mut modes = Vec::new();
    for file in &files {
        let name = file.display();
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{name}: {e}"));
        let raw: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let store_url = raw
            .get("store")
            .and_then(|store| store.get("url"))
            .and_then(toml::Value::as_str)
            .unwrap_or_default();
        let secrets = [
            sets(&raw, "jira", "api_token"),
            sets(&raw, "jira", "pat"),
            sets(&raw, "jira", "password"),
            sets(&raw, "oauth", "client_secret"),
            sets(&raw, "oauth", "token_key"),
            sets(&raw, "mcp", "api_keys"),
            store_url.contains('@'),
        ];
        assert!(
            !secrets.contains(&true),
            "{name} holds a secret: it belongs in the environment"
        );
        let config = Config::load(Some(file), &secrets_from_the_environment(&raw))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            config.glean.keys != Some(GleanKeys::Unsigned),
            "{name} must not turn signatures off"
        );
        config.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        modes.push(config.jira.auth());
    }
    for mode in [
        AuthMode::ApiToken,
        AuthMode::Oauth,
        AuthMode::Passthrough,
        AuthMode::Pat,
    ] {
        assert!(modes.contains(&mode), "no example for {mode:?}");
    }
}

fn healthcheck(url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_jira-action"))
        .args(["healthcheck", "--timeout-secs", "5", "--url", url])
        .output()
        .expect("the binary runs")
}

#[tokio::test]
async fn healthcheck_passes_against_a_live_server_and_fails_otherwise() {
    let app = common::spawn_app().await;
    let live = app.url("/healthz");
    let output = tokio::task::spawn_blocking(move || healthcheck(&live))
        .await
        .expect("joined");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // A route that answers, but not 200.
    let wrong = app.url("/no-such-route");
    let output = tokio::task::spawn_blocking(move || healthcheck(&wrong))
        .await
        .expect("joined");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("404"));

    // Nobody listening: the server's port once it has shut down.
    let addr = app.server.addr;
    app.server.shutdown().await.expect("the server stops");
    let dead = format!("http://{addr}/healthz");
    let output = tokio::task::spawn_blocking(move || healthcheck(&dead))
        .await
        .expect("joined");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("did not answer"));
}
