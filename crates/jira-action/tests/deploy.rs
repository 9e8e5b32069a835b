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

use jira_action::config::{AuthMode, Config};
use secrecy::SecretString;

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

/// What the environment gives a deployment: the secrets the examples say
/// come from `JIRA_ACTION_*` variables.
fn with_secrets_from_the_environment(mut config: Config) -> Config {
    let secret = || Some(SecretString::from("from-the-environment"));
    match config.jira.auth {
        AuthMode::ApiToken => config.jira.api_token = secret(),
        AuthMode::Pat => config.jira.pat = secret(),
        AuthMode::Password => config.jira.password = secret(),
        AuthMode::Oauth => config.oauth.client_secret = secret(),
        AuthMode::Passthrough => {}
    }
    config
}

#[test]
fn every_example_configuration_parses_validates_and_holds_no_secret() {
    let files = examples();
    let mut modes = Vec::new();
    for file in &files {
        let name = file.display();
        let config = Config::from_file(file).unwrap_or_else(|e| panic!("{e}"));
        let secrets = [
            config.jira.api_token.is_some(),
            config.jira.pat.is_some(),
            config.jira.password.is_some(),
            config.oauth.client_secret.is_some(),
            config.oauth.token_key.is_some(),
            !config.mcp.api_keys.is_empty(),
            config.store.url.contains('@'),
        ];
        assert!(
            !secrets.contains(&true),
            "{name} holds a secret: it belongs in the environment"
        );
        assert!(
            !config.glean.allow_unsigned,
            "{name} must not turn signatures off"
        );
        let config = with_secrets_from_the_environment(config);
        config.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        modes.push(config.jira.auth);
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
