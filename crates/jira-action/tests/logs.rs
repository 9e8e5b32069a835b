//! Secrets never reach the log: a test captures everything the server logs
//! at debug level while tokens flow through it, and scans for them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use base64::Engine;
use common::*;
use jira_action::config::JiraCredentials;
use jira_sim::{Endpoint, Fault, FaultKind};
use secrecy::SecretString;
use serde_json::json;

const API_TOKEN: &str = "api-token-secret-4f1b";
const BEARER: &str = "bearer-secret-9c2d";

#[tokio::test]
async fn tokens_never_appear_in_logs() {
    let captured = CapturedLog::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("debug")
        .json()
        .with_writer(move || writer.clone())
        .init();

    // api-token mode with a token Jira refuses, then a Jira failure.
    let app = spawn_app_with(|config, _| {
        config.jira.credentials = JiraCredentials::ApiToken {
            email: ADMIN_EMAIL.into(),
            token: SecretString::from(API_TOKEN),
        };
    })
    .await;
    let body = json!({"pid": "DEMO", "issuetype": "Task", "summary": "s"});
    let (status, answer) = app.create_json("alice@example.com", &body).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("jira_unauthorized"))
    );
    let request_id = app
        .create("alice@example.com", &body)
        .await
        .headers()
        .get("x-request-id")
        .expect("request id")
        .to_str()
        .expect("ascii")
        .to_owned();

    // passthrough: the caller's bearer token, refused and then failing.
    let app = spawn_app_with(|config, _| {
        config.jira.credentials = JiraCredentials::Passthrough;
    })
    .await;
    app.sim.sim.push_fault(Fault {
        endpoint: Some(Endpoint::CreateIssue),
        kind: FaultKind::Status {
            status: 500,
            retry_after: None,
            body: None,
        },
        // Twice: a second create, were there one, would fail too (there is
        // none: an unknown outcome is looked up, never created again).
        times: 2,
    });
    for authorization in [
        format!("Bearer {BEARER}"),
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{ADMIN_EMAIL}:{ADMIN_TOKEN}"))
        ),
    ] {
        let response = app
            .http
            .post(app.url("/create_issue"))
            .header("Glean-User-Email", "alice@example.com")
            .header("Authorization", authorization)
            .json(&body)
            .send()
            .await
            .expect("answers");
        assert!(response.status().is_client_error() || response.status().is_server_error());
    }

    let log = String::from_utf8(captured.0.lock().expect("log buffer").clone()).expect("utf-8");
    assert!(
        log.contains(&request_id),
        "the failed call's request id is logged"
    );
    assert!(
        log.contains("jira_unauthorized") && log.contains("jira_outcome_unknown"),
        "and its error code"
    );
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{ADMIN_EMAIL}:{API_TOKEN}"));
    let admin_basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{ADMIN_EMAIL}:{ADMIN_TOKEN}"));
    for secret in [
        API_TOKEN,
        BEARER,
        basic.as_str(),
        admin_basic.as_str(),
        ADMIN_TOKEN,
    ] {
        assert!(!log.contains(secret), "{secret} leaked into the log");
    }
}
