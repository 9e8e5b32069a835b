//! The OpenAPI document and the handler agree, and the CLI prints what the
//! server serves.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{Map, Value, json};

async fn served(app: &TestApp, path: &str) -> Value {
    app.http
        .get(app.url(path))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json")
}

fn request_schema(document: &Value) -> &Value {
    &document["paths"]["/create_issue"]["post"]["requestBody"]["content"]["application/json"]["schema"]
}

#[tokio::test]
async fn one_path_flat_fields_with_glean_type_hints() {
    let app = spawn_app().await;
    let document = served(&app, "/openapi.json").await;
    assert_eq!(document["paths"].as_object().map(Map::len), Some(1));
    let schema = request_schema(&document);
    let properties = schema["properties"].as_object().expect("properties");
    for (name, property) in properties {
        let kind = property["type"].as_str().expect("type");
        assert!(
            ["string", "integer", "number", "boolean"].contains(&kind),
            "{name} is flat"
        );
    }
    let hints: Vec<(&str, &str)> = properties
        .iter()
        .filter_map(|(name, p)| Some((name.as_str(), p["x-glean-typehint"].as_str()?)))
        .collect();
    for expected in [
        ("pid", "JiraProjectID"),
        ("issuetype", "JiraIssueType"),
        ("priority", "JiraIssuePriority"),
        ("components", "JiraComponentId"),
        ("assignee", "EmailAddress"),
        ("summary", "Content"),
        ("description", "Content"),
    ] {
        assert!(hints.contains(&expected), "{expected:?} in {hints:?}");
    }
    assert_eq!(
        document["servers"][0]["url"],
        app.base.trim_end_matches('/'),
        "the server's own public URL"
    );
}

/// Every documented field is accepted with its documented example; only
/// the documented required fields are required; nothing else is accepted.
#[tokio::test]
async fn the_document_describes_exactly_what_the_handler_accepts() {
    let app = spawn_app().await;
    let document = served(&app, "/openapi.json").await;
    let schema = request_schema(&document);
    let properties = schema["properties"]
        .as_object()
        .expect("properties")
        .clone();
    let required: BTreeSet<String> = schema["required"]
        .as_array()
        .expect("required")
        .iter()
        .map(|v| v.as_str().expect("name").to_owned())
        .collect();
    assert_eq!(
        required,
        BTreeSet::from([
            "pid".to_owned(),
            "issuetype".to_owned(),
            "summary".to_owned()
        ])
    );
    let examples: Map<String, Value> = properties
        .iter()
        .map(|(name, p)| (name.clone(), p["example"].clone()))
        .collect();

    let (status, answer) = app
        .create_json("alice@example.com", &Value::Object(examples.clone()))
        .await;
    assert_eq!(status, 200, "all documented examples together: {answer}");

    for name in properties.keys() {
        let mut body = examples.clone();
        body.remove(name);
        let (status, answer) = app
            .create_json("alice@example.com", &Value::Object(body))
            .await;
        if required.contains(name) {
            assert_eq!(
                (status, answer["error"].as_str()),
                (400, Some("missing_field")),
                "{name}"
            );
            assert_eq!(answer["field"], name.as_str());
        } else {
            assert_eq!(status, 200, "{name} is optional: {answer}");
        }
    }

    let mut body = examples.clone();
    body.insert("reporter".into(), json!("someone@example.com"));
    let (status, answer) = app
        .create_json("alice@example.com", &Value::Object(body))
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("unknown_field"))
    );

    // Documented bounds are enforced.
    let priority = &properties["priority"];
    let (min, max) = (
        priority["minimum"].as_i64().expect("min"),
        priority["maximum"].as_i64().expect("max"),
    );
    for (value, ok) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
        let mut body = examples.clone();
        body.insert("priority".into(), json!(value));
        let (status, _) = app
            .create_json("alice@example.com", &Value::Object(body))
            .await;
        assert_eq!(status == 200, ok, "priority {value}");
    }
    let max_len = properties["summary"]["maxLength"]
        .as_u64()
        .expect("maxLength") as usize;
    for (len, ok) in [(max_len, true), (max_len + 1, false)] {
        let mut body = examples.clone();
        body.insert("summary".into(), json!("s".repeat(len)));
        let (status, _) = app
            .create_json("alice@example.com", &Value::Object(body))
            .await;
        assert_eq!(status == 200, ok, "summary of {len}");
    }
}

#[tokio::test]
async fn yaml_and_manifest_are_served() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/openapi.yaml"))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let yaml = response.text().await.expect("text");
    assert!(yaml.starts_with("openapi: 3.0.3\n"), "{yaml}");
    assert!(yaml.contains("/create_issue:"));
    let manifest = served(&app, "/manifest.json").await;
    assert_eq!(manifest["actionType"], "EXECUTION");
    assert_eq!(manifest["type"], "ACTION");
    assert_eq!(
        manifest["auth"]["type"], "NONE",
        "api-token mode needs no Glean auth"
    );
    let name = manifest["name"].as_str().expect("name");
    assert!(name.len() <= 50 && name.chars().all(|c| c.is_ascii_alphanumeric()));
}

#[tokio::test]
async fn the_cli_prints_the_served_documents() {
    let public = "https://tools.example.com/jira";
    let app = spawn_app_with(|config, _| {
        config.public_url = Some(public.parse().expect("url"));
    })
    .await;
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_jira-action"))
            .args(args)
            .output()
            .expect("runs");
        assert!(output.status.success(), "{args:?}: {output:?}");
        String::from_utf8(output.stdout).expect("utf-8")
    };
    let printed: Value =
        serde_json::from_str(&run(&["openapi", "--url", public, "--json"])).expect("json");
    assert_eq!(printed, served(&app, "/openapi.json").await);
    let yaml = run(&["openapi", "--url", public]);
    let served_yaml = app
        .http
        .get(app.url("/openapi.yaml"))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("text");
    assert_eq!(yaml, served_yaml);
    let manifest: Value =
        serde_json::from_str(&run(&["manifest", "--url", public, "--auth", "api-token"]))
            .expect("json");
    assert_eq!(manifest, served(&app, "/manifest.json").await);
}
