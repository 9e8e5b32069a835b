//! The MCP door, black-box: the official Rust SDK's client against the
//! real server (and `jira-action mcp` on stdio) and the Jira simulator.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use std::collections::HashMap;

use common::{TestApp, data_center, spawn_app_with, user_in};
use jira_action::config::JiraCredentials;
use jira_action::store::{AuditFilter, Store};
use rmcp::model::{CallToolRequestParams, CallToolResult, ProtocolVersion};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientLifecycleMode, ClientServiceExt, ServiceExt};
use secrecy::SecretString;
use serde_json::{Map, Value, json};

const KEY: &str = "test-mcp-key";

type Client = RunningService<RoleClient, ()>;

/// The server with an MCP key, its store in a file the test can read.
async fn mcp_app() -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store.db").display().to_string();
    let app = spawn_app_with(move |config, _| {
        config.mcp.api_keys = vec![SecretString::from("retired-key"), SecretString::from(KEY)];
        config.store.url = store;
    })
    .await;
    (app, dir)
}

/// The client transport's settings: the key, and the person's header.
fn transport_config(app: &TestApp, user: Option<&str>) -> StreamableHttpClientTransportConfig {
    let mut headers = HashMap::new();
    if let Some(user) = user {
        headers.insert(
            http::HeaderName::from_static("glean-user-email"),
            http::HeaderValue::from_str(user).expect("header"),
        );
    }
    StreamableHttpClientTransportConfig::with_uri(app.url("/mcp"))
        .auth_header(KEY)
        .custom_headers(headers)
}

/// A client that negotiates 2025-11-25 with the `initialize` handshake.
async fn connect(app: &TestApp, user: &str) -> Client {
    ().serve(StreamableHttpClientTransport::from_config(
        transport_config(app, Some(user)),
    ))
    .await
    .expect("client connects")
}

/// A client of the stateless revision (2026-07-28: `server/discover`).
async fn connect_stateless(app: &TestApp, user: &str) -> Client {
    ().serve_with_lifecycle(
        StreamableHttpClientTransport::from_config(transport_config(app, Some(user))),
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    )
    .await
    .expect("client discovers")
}

fn arguments(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(object) => object,
        _ => panic!("arguments must be an object"),
    }
}

async fn call(client: &Client, tool: &'static str, args: Value) -> CallToolResult {
    client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(arguments(args)))
        .await
        .expect("the tool answers")
}

fn structured(result: &CallToolResult) -> &Value {
    result
        .structured_content
        .as_ref()
        .expect("structured content")
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect()
}

fn issue(summary: &str) -> Value {
    json!({
        "pid": "DEMO",
        "issuetype": "Bug",
        "summary": summary,
        "components": "Backend",
        "assignee": "alice@example.com",
        "description": "Steps:\n\n1. open\n2. **crash**",
    })
}

#[tokio::test]
async fn lists_both_tools_with_schemas_and_annotations() {
    let (app, _dir) = mcp_app().await;
    let client = connect(&app, "bob@example.com").await;
    let tools = client.list_all_tools().await.expect("tools");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["create_issue", "describe_project"]);
    let create = &tools[0];
    let annotations = create.annotations.as_ref().expect("annotations");
    assert_eq!(annotations.read_only_hint, Some(false));
    assert_eq!(annotations.destructive_hint, Some(false));
    assert_eq!(annotations.idempotent_hint, Some(true));
    let mut properties: Vec<&String> = create.input_schema["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .collect();
    properties.sort();
    let mut accepted = jira_action::glean::contract::FIELD_NAMES.to_vec();
    accepted.sort();
    assert_eq!(properties, accepted);
    let output = create.output_schema.as_ref().expect("output schema");
    assert_eq!(output["required"], json!(["resultURL", "key"]));
    let describe = &tools[1];
    assert_eq!(
        describe.annotations.as_ref().and_then(|a| a.read_only_hint),
        Some(true)
    );
    client.cancel().await.expect("cancel");
}

#[tokio::test]
async fn creates_an_attributed_issue_once_over_both_protocol_revisions() {
    let (app, dir) = mcp_app().await;
    for (n, stateless) in [(1, false), (2, true)] {
        let client = match stateless {
            false => connect(&app, "bob@example.com").await,
            true => connect_stateless(&app, "bob@example.com").await,
        };
        let summary = format!("Crash on open ({n})");
        let result = call(&client, "create_issue", issue(&summary)).await;
        assert_eq!(result.is_error, Some(false), "{}", text(&result));
        let answer = structured(&result).clone();
        let key = answer["key"].as_str().expect("key").to_owned();
        assert_eq!(
            answer["resultURL"],
            format!("{}/browse/{key}", app.sim.base_url())
        );
        assert!(text(&result).contains(&key), "{}", text(&result));
        let fields = app.jira_issue(&key).await["fields"].clone();
        assert_eq!(
            user_in(&fields["reporter"]),
            Some(app.account_id("bob@example.com").await.as_str())
        );
        assert_eq!(
            user_in(&fields["assignee"]),
            Some(app.account_id("alice@example.com").await.as_str())
        );
        // The simulator validates ADF on create (Cloud), and stores wiki
        // markup as sent (Data Center).
        if data_center() {
            let markup = fields["description"].as_str().expect("wiki markup");
            assert!(
                markup.contains("# open") && markup.contains("*crash*"),
                "{markup}"
            );
        } else {
            assert!(fields["description"].to_string().contains("orderedList"));
        }

        // A repeat makes nothing new and answers as the first call did.
        let again = call(&client, "create_issue", issue(&summary)).await;
        assert_eq!(structured(&again), &answer);
        assert_eq!(app.sim.sim.issues().len(), n);
        client.cancel().await.expect("cancel");
    }
    // Audited as MCP calls of create_issue.
    let store = Store::open(&dir.path().join("store.db").display().to_string(), 1)
        .await
        .expect("store");
    let records = store.audit(&AuditFilter::default()).await.expect("audit");
    store.close().await;
    assert_eq!(records.len(), 4);
    assert!(records.iter().all(|r| r.front_door == "mcp"));
    assert!(records.iter().all(|r| r.operation == "create_issue"));
    assert!(records.iter().all(|r| r.signature == "api_key"));
    assert!(records.iter().all(|r| r.client.is_some()), "{records:?}");
    let outcomes: Vec<String> = records.iter().map(|r| r.outcome.to_string()).collect();
    assert_eq!(outcomes.iter().filter(|o| *o == "created").count(), 2);
    assert_eq!(outcomes.iter().filter(|o| *o == "replayed").count(), 2);
}

#[tokio::test]
async fn two_concurrent_identical_calls_make_one_issue() {
    let (app, _dir) = mcp_app().await;
    app.sim
        .sim
        .set_latency(std::time::Duration::from_millis(100));
    let (a, b) = tokio::join!(
        connect(&app, "bob@example.com"),
        connect(&app, "bob@example.com")
    );
    let (first, second) = tokio::join!(
        call(&a, "create_issue", issue("Twice at once")),
        call(&b, "create_issue", issue("Twice at once"))
    );
    assert_eq!(structured(&first)["key"], structured(&second)["key"]);
    assert_eq!(app.sim.sim.issues().len(), 1);
}

#[tokio::test]
async fn a_glean_call_repeated_over_mcp_is_the_same_request() {
    let (app, _dir) = mcp_app().await;
    let (status, first) = app
        .create_json("bob@example.com", &issue("Through either door"))
        .await;
    assert_eq!(status, 200, "{first}");
    let client = connect(&app, "bob@example.com").await;
    let again = call(&client, "create_issue", issue("Through either door")).await;
    assert_eq!(structured(&again)["key"], first["key"]);
    assert_eq!(app.sim.sim.issues().len(), 1);
}

#[tokio::test]
async fn a_refusal_is_a_tool_error_with_the_choices() {
    let (app, _dir) = mcp_app().await;
    let client = connect(&app, "bob@example.com").await;
    let result = call(
        &client,
        "create_issue",
        json!({"pid": "DEMO", "issuetype": "Epicc", "summary": "x"}),
    )
    .await;
    assert_eq!(result.is_error, Some(true));
    let body = structured(&result);
    assert_eq!(body["error"], "issuetype_not_found");
    assert_eq!(body["field"], "issuetype");
    let choices = body["choices"].as_array().expect("choices");
    assert!(
        choices
            .iter()
            .any(|c| c.as_str().is_some_and(|c| c.contains("Bug")))
    );
    assert!(text(&result).contains("issuetype_not_found"));
    let unknown = call(
        &client,
        "create_issue",
        json!({"pid": "DEMO", "summary": "x", "reporter": "me"}),
    )
    .await;
    assert_eq!(structured(&unknown)["error"], "unknown_field");
    assert!(app.sim.sim.issues().is_empty());
    // An unknown tool is a protocol error, not a tool result.
    let error = client
        .call_tool(CallToolRequestParams::new("delete_everything"))
        .await
        .expect_err("no such tool");
    assert!(error.to_string().contains("delete_everything"), "{error}");
}

#[tokio::test]
async fn describes_a_project_for_the_model() {
    let (app, _dir) = mcp_app().await;
    let client = connect(&app, "bob@example.com").await;
    let result = call(&client, "describe_project", json!({"project": "demo"})).await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    let project = structured(&result);
    assert_eq!(project["key"], "DEMO");
    let types: Vec<&str> = project["issue_types"]
        .as_array()
        .expect("issue types")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        types.contains(&"Bug") && types.contains(&"Task"),
        "{types:?}"
    );
    let components: Vec<&str> = project["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(components.contains(&"Backend"), "{components:?}");
    assert_eq!(project["priorities"].as_array().map(Vec::len), Some(5));
    // Every issue type lists the summary as required, set by `summary`.
    for issue_type in project["issue_types"].as_array().expect("types") {
        let required = issue_type["required_fields"].as_array().expect("required");
        assert!(
            required
                .iter()
                .any(|f| f["field"] == "summary" && f["argument"] == "summary"),
            "{issue_type}"
        );
    }
    let missing = call(&client, "describe_project", json!({"project": "NOPE"})).await;
    assert_eq!(structured(&missing)["error"], "project_not_found");
    assert!(app.sim.sim.issues().is_empty());
}

#[tokio::test]
async fn without_the_user_header_nothing_is_created() {
    let (app, _dir) = mcp_app().await;
    let client = ()
        .serve(StreamableHttpClientTransport::from_config(
            transport_config(&app, None),
        ))
        .await
        .expect("connects");
    let result = call(&client, "create_issue", issue("Whose?")).await;
    assert_eq!(result.is_error, Some(true));
    assert_eq!(structured(&result)["error"], "missing_user_email");
    assert!(
        structured(&result)["message"]
            .as_str()
            .is_some_and(|m| m.contains("Glean-User-Email"))
    );
    assert!(app.sim.sim.issues().is_empty());
}

/// A raw JSON-RPC `tools/call` of create_issue, as a client would post it.
async fn raw_create(app: &TestApp, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url("/mcp"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25")
        .header("Glean-User-Email", "bob@example.com");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "create_issue", "arguments": issue("Sneaky")}}))
        .send()
        .await
        .expect("server answers")
}

#[tokio::test]
async fn no_key_a_wrong_key_or_a_foreign_origin_is_refused() {
    let (app, _dir) = mcp_app().await;
    let none = raw_create(&app, &[]).await;
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    // Refused unread, the connection is not reused (see access.rs).
    assert_eq!(none.headers()["connection"], "close");
    let wrong = raw_create(&app, &[("Authorization", "Bearer not-a-key")]).await;
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .is_ok_and(|v| v.starts_with("Bearer") && v.contains("invalid_token"))
    );
    let bearer = format!("Bearer {KEY}");
    let foreign = raw_create(
        &app,
        &[
            ("Authorization", &bearer),
            ("Origin", "https://evil.example"),
        ],
    )
    .await;
    assert_eq!(foreign.status(), 403);
    let rebinding = raw_create(
        &app,
        &[("Authorization", &bearer), ("Host", "evil.example")],
    )
    .await;
    assert_eq!(rebinding.status(), 403);
    assert!(app.sim.sim.issues().is_empty());
    // The same call with the key and a local origin goes through.
    let local = raw_create(
        &app,
        &[
            ("Authorization", &bearer),
            ("Origin", "http://localhost:3000"),
        ],
    )
    .await;
    assert_eq!(local.status(), 200);
    assert_eq!(app.sim.sim.issues().len(), 1);
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store.db").display().to_string();
    let app = spawn_app_with(move |config, _| {
        config.mcp.api_keys = vec![SecretString::from(KEY)];
        config.store.url = store;
        config.limits.max_body_bytes = 2_000;
    })
    .await;
    let client = connect(&app, "bob@example.com").await;
    let mut big = issue("Too long");
    big["description"] = json!("x".repeat(5_000));
    let refused = client
        .call_tool(CallToolRequestParams::new("create_issue").with_arguments(arguments(big)))
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(app.sim.sim.issues().is_empty());
}

#[tokio::test]
async fn passthrough_mode_has_no_mcp_endpoint() {
    let app = spawn_app_with(|config, _| {
        config.jira.credentials = JiraCredentials::Passthrough;
        config.mcp.api_keys = vec![SecretString::from(KEY)];
    })
    .await;
    let response = raw_create(&app, &[("Authorization", &format!("Bearer {KEY}"))]).await;
    assert_eq!(response.status(), 404);
    assert!(app.sim.sim.issues().is_empty());
}

#[tokio::test]
async fn stdio_serves_the_same_tools_for_one_person() {
    let sim = jira_sim::Sim::spawn(common::sim_config())
        .await
        .expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_jira-action"));
    command
        .arg("mcp")
        .args(["--user", "bob@example.com"])
        .args(["--jira-url", &sim.base_url()])
        .args(common::credential_args())
        .arg("--store-url")
        .arg(dir.path().join("store.db"))
        .env("RUST_LOG", "warn");
    let child = rmcp::transport::TokioChildProcess::new(command).expect("spawns");
    let client = ().serve(child).await.expect("initializes over stdio");
    let tools = client.list_all_tools().await.expect("tools");
    assert_eq!(tools.len(), 2);
    let result = call(&client, "create_issue", issue("From the desktop")).await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    let key = structured(&result)["key"].as_str().expect("key").to_owned();
    let stored = sim.sim.issue(&key).expect("stored");
    assert_eq!(stored.summary, "From the desktop");
    let again = call(&client, "create_issue", issue("From the desktop")).await;
    assert_eq!(structured(&again)["key"], key.as_str());
    assert_eq!(sim.sim.issues().len(), 1);
    client.cancel().await.expect("cancel");
}
