//! Only Glean gets in: signatures, access rules, hostile input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use common::*;
use glean_sim::{GleanSim, LEGACY_SIGNATURE_HEADER, SIGNATURE_HEADER, TestSigner};
use serde_json::{Value, json};

fn body() -> Value {
    json!({"pid": "DEMO", "issuetype": "Task", "summary": "Signed"})
}

async fn send(app: &TestApp, headers: &[(&str, String)], body: &str) -> (u16, Value) {
    let mut request = app
        .http
        .post(app.url("/create_issue"))
        .header("Glean-User-Email", "alice@example.com")
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    json_of(request.send().await.expect("answers")).await
}

#[tokio::test]
async fn only_validly_signed_calls_get_in() {
    let (app, _key) = spawn_signed_app().await;
    let signer = TestSigner::shared();
    let body = body().to_string();

    let (status, answer) = send(&app, &[(SIGNATURE_HEADER, signer.token())], &body).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = send(&app, &[(LEGACY_SIGNATURE_HEADER, signer.token())], &body).await;
    assert_eq!(status, 200, "the legacy header name: {answer}");
    // Within the 30 s clock skew.
    let (status, _) = send(
        &app,
        &[(SIGNATURE_HEADER, signer.token_with("glean", 20, 80))],
        &body,
    )
    .await;
    assert_eq!(status, 200);

    let refused: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("missing", vec![]),
        (
            "expired",
            vec![(SIGNATURE_HEADER, signer.token_with("glean", -600, -120))],
        ),
        (
            "not yet valid",
            vec![(SIGNATURE_HEADER, signer.token_with("glean", 300, 400))],
        ),
        (
            "wrong issuer",
            vec![(SIGNATURE_HEADER, signer.token_with("evil", 0, 60))],
        ),
        (
            "wrong key",
            vec![(SIGNATURE_HEADER, TestSigner::shared_other().token())],
        ),
        (
            "malformed",
            vec![(SIGNATURE_HEADER, "not.a.jwt".to_owned())],
        ),
        ("empty", vec![(SIGNATURE_HEADER, String::new())]),
        (
            "alg none",
            vec![(
                SIGNATURE_HEADER,
                glean_sim::forge::alg_none(&glean_sim::Claims::valid_now()),
            )],
        ),
        (
            "HS256 with the public key as secret",
            vec![(
                SIGNATURE_HEADER,
                glean_sim::forge::hs256(
                    signer.public_key_pem().as_bytes(),
                    &glean_sim::Claims::valid_now(),
                ),
            )],
        ),
    ];
    let created = app.sim.sim.issues().len();
    for (case, headers) in refused {
        let (status, answer) = send(&app, &headers, &body).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (401, Some("invalid_signature")),
            "{case}"
        );
    }
    assert_eq!(app.sim.sim.issues().len(), created, "nothing created");
}

#[tokio::test]
async fn an_unsigned_call_is_refused_before_its_body_is_read() {
    let (app, _key) = spawn_signed_app().await;
    // A malformed body would be a 400 if it were parsed.
    let (status, answer) = send(&app, &[], "{not json").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("invalid_signature"))
    );
    assert_eq!(app.sim.sim.total_calls(), 0, "and Jira is never asked");
}

#[tokio::test]
async fn the_key_can_come_from_the_glean_backend() {
    let glean = GleanSim::spawn(TestSigner::shared())
        .await
        .expect("glean sim");
    let url = glean.base_url();
    let app = spawn_app_with(move |config, _| {
        config.glean.keys = Some(jira_action::config::GleanKeys::Url(
            url.parse().expect("url"),
        ));
    })
    .await;
    for _ in 0..3 {
        let (status, answer) = send(
            &app,
            &[(SIGNATURE_HEADER, TestSigner::shared().token())],
            &body().to_string(),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(glean.key_fetches(), 1, "the key is fetched once and cached");
}

#[tokio::test]
async fn the_server_refuses_to_start_without_a_key_source() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_jira-action"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--jira-url",
            "http://127.0.0.1:9",
        ])
        .env_remove("JIRA_ACTION_GLEAN_KEY")
        .env_remove("JIRA_ACTION_GLEAN_URL")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--allow-unsigned") && stderr.contains("--glean-key"),
        "{stderr}"
    );
}

#[tokio::test]
async fn allow_lists_refuse_callers_and_projects() {
    let app = spawn_app_with(|config, _| {
        config.access.callers = ["example.com"].into();
        config.access.projects = ["OPS"].into();
    })
    .await;
    let (status, answer) = app.create_json("mallory@evil.com", &body()).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("caller_not_allowed"))
    );
    let (status, answer) = app.create_json("alice@example.com", &body()).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("project_not_allowed")),
        "{answer}"
    );
    let mut ops = body();
    ops["pid"] = json!("10001");
    let (status, answer) = app.create_json("alice@example.com", &ops).await;
    assert_eq!(status, 200, "OPS by id is allowed: {answer}");
    assert_eq!(app.sim.sim.issues().len(), 1);
}

#[tokio::test]
async fn no_field_can_steer_requests_elsewhere() {
    let app = spawn_app().await;
    for pid in [
        "../myself",
        "DEMO/../../myself",
        "http://evil.example/",
        "DEMO?x=1",
        "%2e%2e",
    ] {
        let mut body = body();
        body["pid"] = json!(pid);
        let (status, answer) = app.create_json("alice@example.com", &body).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some("invalid_field")),
            "{pid}"
        );
    }
    for issuetype in ["../../myself", "Bug/../x"] {
        let mut body = body();
        body["issuetype"] = json!(issuetype);
        let (status, _) = app.create_json("alice@example.com", &body).await;
        assert_eq!(status, 400, "{issuetype}");
    }
    assert_eq!(app.sim.sim.calls(jira_sim::Endpoint::Myself), 0);
}

#[tokio::test]
async fn oversized_headers_are_refused() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(app.url("/create_issue"))
        .header("Glean-User-Email", "alice@example.com")
        .header("X-Padding", "x".repeat(64 * 1024))
        .json(&body())
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 431);
    assert!(app.sim.sim.issues().is_empty());
}

#[tokio::test]
async fn a_signature_with_critical_extensions_is_refused() {
    let (app, _key) = spawn_signed_app().await;
    let signer = TestSigner::shared();
    let claims = glean_sim::Claims::valid_now();
    let body = body().to_string();
    let plain = signer.sign_with_header(&json!({"alg": "RS256", "typ": "JWT"}), &claims);
    let (status, answer) = send(&app, &[(SIGNATURE_HEADER, plain)], &body).await;
    assert_eq!(status, 200, "the same token without crit: {answer}");
    // RFC 7515 §4.1.11: extensions we do not understand refuse the token.
    for header in [
        json!({"alg": "RS256", "typ": "JWT", "crit": ["exp"], "exp": 1}),
        json!({"alg": "RS256", "crit": []}),
    ] {
        let token = signer.sign_with_header(&header, &claims);
        let (status, answer) = send(&app, &[(SIGNATURE_HEADER, token)], &body).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (401, Some("invalid_signature")),
            "{header}"
        );
    }
    let refusals = app.server.state.metrics().value(
        "jira_action_signature_refusals_total",
        &[("reason", "critical_extensions")],
    );
    assert_eq!(refusals, Some(2.0));
}
