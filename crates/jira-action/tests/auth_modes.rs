//! The ways to reach and authenticate to Jira: passthrough of the caller's
//! header, the server's API token, the OAuth gateway (with a configured or
//! discovered cloud id).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use base64::Engine;
use common::*;
use jira_action::config::JiraCredentials;
use serde_json::json;

fn body() -> serde_json::Value {
    json!({"pid": "DEMO", "issuetype": "Task", "summary": "Via passthrough"})
}

fn basic(email: &str, token: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{email}:{token}"))
    )
}

#[tokio::test]
async fn passthrough_forwards_the_callers_authorization() {
    let app = spawn_app_with(|config, _| {
        config.jira.credentials = JiraCredentials::Passthrough;
    })
    .await;
    let send = |authorization: Option<String>| {
        let mut request = app
            .http
            .post(app.url("/create_issue"))
            .header("Glean-User-Email", "alice@example.com")
            .json(&body());
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        request.send()
    };
    let (status, answer) = json_of(send(None).await.expect("answers")).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("missing_credentials"))
    );
    let (status, answer) = json_of(
        send(Some(basic(ADMIN_EMAIL, "wrong")))
            .await
            .expect("answers"),
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("jira_unauthorized"))
    );
    assert!(
        !answer.to_string().contains("wrong"),
        "no credential echoed"
    );
    let (status, answer) = json_of(
        send(Some(basic(ADMIN_EMAIL, ADMIN_TOKEN)))
            .await
            .expect("answers"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(app.sim.sim.issues().len(), 1);
}

#[tokio::test]
async fn the_oauth_gateway_form_links_to_the_site() {
    let app = spawn_app_with(|config, sim| {
        config.jira.credentials = JiraCredentials::Passthrough;
        config.jira.url = Some(sim.gateway_url().parse().expect("url"));
        config.jira.site_url = Some("https://demo.atlassian.net".parse().expect("url"));
    })
    .await;
    let (status, answer) = app
        .create_with_auth(
            "alice@example.com",
            &format!("Bearer {OAUTH_TOKEN}"),
            &body(),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let key = answer["key"].as_str().expect("key");
    assert_eq!(
        answer["resultURL"],
        format!("https://demo.atlassian.net/browse/{key}")
    );
}

#[tokio::test]
async fn the_cloud_id_is_discovered_once() {
    let site = "https://demo.atlassian.net";
    let sim_config = jira_sim::SimConfig {
        site_url: Some(site.to_owned()),
        ..jira_sim::SimConfig::default()
    };
    // The simulator serves accessible-resources at its root, as
    // api.atlassian.com does.
    let app = spawn_app_with_sim(sim_config, |config, sim| {
        config.jira.credentials = JiraCredentials::Passthrough;
        config.jira.discover_cloud_id = true;
        config.jira.url = Some(sim.base_url().parse().expect("url"));
        config.jira.site_url = Some(site.parse().expect("url"));
    })
    .await;
    for n in 0..2 {
        // Two different issues (the same one twice would be one create).
        let mut body = body();
        body["summary"] = json!(format!("Via passthrough {n}"));
        let (status, answer) = app
            .create_with_auth("alice@example.com", &format!("Bearer {OAUTH_TOKEN}"), &body)
            .await;
        assert_eq!(status, 200, "{answer}");
        let key = answer["key"].as_str().expect("key");
        assert_eq!(answer["resultURL"], format!("{site}/browse/{key}"));
    }
    assert_eq!(
        app.sim.sim.calls(jira_sim::Endpoint::AccessibleResources),
        1
    );
    // The creates went through the gateway form.
    assert_eq!(app.sim.sim.issues().len(), 2);
}

#[tokio::test]
async fn an_unknown_site_is_a_configuration_error() {
    let app = spawn_app_with(|config, sim| {
        config.jira.credentials = JiraCredentials::Passthrough;
        config.jira.discover_cloud_id = true;
        config.jira.url = Some(sim.base_url().parse().expect("url"));
        config.jira.site_url = Some("https://other.atlassian.net".parse().expect("url"));
    })
    .await;
    let (status, answer) = app
        .create_with_auth(
            "alice@example.com",
            &format!("Bearer {OAUTH_TOKEN}"),
            &body(),
        )
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (502, Some("jira_misconfigured"))
    );
}
