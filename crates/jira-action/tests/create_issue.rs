//! `POST /create_issue` end to end: the real server against the simulator.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use common::*;
use jira_sim::{Endpoint, Fault, FaultKind};
use serde_json::{Value, json};
use std::time::Duration;

fn minimal() -> Value {
    json!({"pid": "DEMO", "issuetype": "Task", "summary": "Printer jammed"})
}

fn assert_valid_adf(doc: &Value) {
    if let Err(errors) = adf::schema::validate(doc) {
        panic!("invalid ADF {doc}: {errors:?}");
    }
}

#[tokio::test]
async fn creates_a_fully_attributed_issue() {
    let app = spawn_app().await;
    let (status, body) = app
        .create_json(
            "Bob@Example.com",
            &json!({
                "pid": "DEMO",
                "issuetype": "Bug",
                "summary": "Login fails after password reset",
                "priority": 2,
                "components": "Backend, Frontend",
                "description": "Steps:\n\n1. reset\n2. log in\n\nIt **fails**.",
                "assignee": "alice@example.com",
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let key = body["key"].as_str().expect("key");
    assert!(key.starts_with("DEMO-"), "{key}");
    assert_eq!(
        body["resultURL"],
        format!("{}/browse/{key}", app.sim.base_url())
    );

    let issue = app.jira_issue(key).await;
    let fields = &issue["fields"];
    assert_eq!(fields["project"]["key"], "DEMO");
    assert_eq!(fields["issuetype"]["name"], "Bug");
    assert_eq!(fields["priority"]["id"], "2");
    assert_eq!(fields["summary"], "Login fails after password reset");
    let components: Vec<&str> = fields["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(components, ["Backend", "Frontend"]);
    // Bob hides his email (on Cloud): found all the same, by the
    // exact-email query.
    assert_eq!(
        user_in(&fields["reporter"]),
        Some(app.account_id("bob@example.com").await.as_str())
    );
    assert_eq!(
        user_in(&fields["assignee"]),
        Some(app.account_id("alice@example.com").await.as_str())
    );
    if data_center() {
        // Wiki markup, stored as sent.
        let text = fields["description"].as_str().expect("wiki markup");
        assert!(
            text.contains("# reset") && text.contains("*fails*"),
            "{text}"
        );
    } else {
        assert_valid_adf(&fields["description"]);
        let text = fields["description"].to_string();
        assert!(
            text.contains("orderedList") && text.contains("strong"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn accepts_ids_as_well_as_names() {
    let app = spawn_app().await;
    let (status, body) = app
        .create_json(
            "alice@example.com",
            &json!({"pid": 10000, "issuetype": 10002, "summary": "By ids", "components": "10100", "priority": "5"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let issue = app.jira_issue(body["key"].as_str().expect("key")).await;
    assert_eq!(issue["fields"]["issuetype"]["id"], "10002");
    assert_eq!(issue["fields"]["components"][0]["id"], "10100");
    assert_eq!(issue["fields"]["priority"]["id"], "5");
    // Without a description or an assignee, none is sent.
    assert!(issue["fields"]["assignee"].is_null());
}

#[tokio::test]
async fn plain_text_descriptions_keep_their_lines() {
    let app = spawn_app_with(|config, _| {
        config.description_format = jira_action::config::DescriptionFormat::Plain;
    })
    .await;
    let mut body = minimal();
    body["description"] = json!("line one\nline two\n\n*not emphasis*");
    let (status, created) = app.create_json("alice@example.com", &body).await;
    assert_eq!(status, 200, "{created}");
    let issue = app.jira_issue(created["key"].as_str().expect("key")).await;
    let description = &issue["fields"]["description"];
    if data_center() {
        // Each line kept, and the asterisks shown as typed, not as bold.
        assert_eq!(description, "line one\nline two\n\n\\*not emphasis\\*");
        return;
    }
    assert_valid_adf(description);
    assert_eq!(
        description["content"],
        json!([
            {"type": "paragraph", "content": [
                {"type": "text", "text": "line one"},
                {"type": "hardBreak"},
                {"type": "text", "text": "line two"}]},
            {"type": "paragraph", "content": [{"type": "text", "text": "*not emphasis*"}]}
        ])
    );
}

#[tokio::test]
async fn a_warm_request_costs_exactly_one_jira_call() {
    let app = spawn_app().await;
    let mut body = minimal();
    body["assignee"] = json!("alice@example.com");
    let (status, _) = app.create_json("bob@example.com", &body).await;
    assert_eq!(status, 200);
    app.sim.sim.reset_calls();
    // Another issue (the same one again would be answered without Jira).
    body["summary"] = json!("Printer jammed again");
    let (status, _) = app.create_json("bob@example.com", &body).await;
    assert_eq!(status, 200);
    assert_eq!(app.sim.sim.calls(Endpoint::CreateIssue), 1);
    assert_eq!(app.sim.sim.total_calls(), 1);
    // The same project by id is the same cached project.
    app.sim.sim.reset_calls();
    body["pid"] = json!("10000");
    let (status, _) = app.create_json("bob@example.com", &body).await;
    assert_eq!(status, 200);
    assert_eq!(app.sim.sim.total_calls(), 1);
}

#[tokio::test]
async fn a_cold_caller_costs_one_user_lookup() {
    let app = spawn_app().await;
    let (status, _) = app.create_json("alice@example.com", &minimal()).await;
    assert_eq!(status, 200);
    app.sim.sim.reset_calls();
    let (status, _) = app.create_json("bob@example.com", &minimal()).await;
    assert_eq!(status, 200);
    assert_eq!(app.sim.sim.calls(Endpoint::UserSearch), 1);
    assert_eq!(app.sim.sim.total_calls(), 2);
}

async fn assert_refused(
    app: &TestApp,
    email: &str,
    body: &Value,
    status: u16,
    code: &str,
) -> Value {
    let before = app.sim.sim.issues().len();
    let (got, answer) = app.create_json(email, body).await;
    assert_eq!(
        (got, answer["error"].as_str()),
        (status, Some(code)),
        "{answer}"
    );
    assert!(
        answer["message"].as_str().is_some_and(|m| m.len() > 10),
        "a sentence a person can act on: {answer}"
    );
    assert_eq!(app.sim.sim.issues().len(), before, "nothing created");
    answer
}

#[tokio::test]
async fn unknown_hidden_ambiguous_and_inactive_reporters() {
    let app = spawn_app().await;
    if data_center() {
        // Data Center shows every email, so hidden ones cannot make two
        // Sams match; two accounts with one email (several user
        // directories) can.
        app.sim.sim.add_user(
            jira_sim::User::new("dc-sam-2", "Sam Smith (LDAP)", "sam@example.com")
                .with_username("ssmith", "JIRAUSER19999"),
        );
    }
    assert_refused(
        &app,
        "nobody@example.com",
        &minimal(),
        400,
        "reporter_not_found",
    )
    .await;
    assert_refused(
        &app,
        "carol@example.com",
        &minimal(),
        400,
        "reporter_not_found",
    )
    .await;
    let answer = assert_refused(
        &app,
        "sam@example.com",
        &minimal(),
        409,
        "reporter_ambiguous",
    )
    .await;
    assert_eq!(
        answer["candidates"].as_array().map(Vec::len),
        Some(2),
        "{answer}"
    );
    // An assignee is resolved the same way.
    let mut body = minimal();
    body["assignee"] = json!("carol@example.com");
    assert_refused(&app, "alice@example.com", &body, 400, "assignee_not_found").await;
    body["assignee"] = json!("sam@example.com");
    assert_refused(&app, "alice@example.com", &body, 409, "assignee_ambiguous").await;
}

#[tokio::test]
async fn negative_user_results_are_cached_too() {
    let app = spawn_app().await;
    assert_refused(
        &app,
        "nobody@example.com",
        &minimal(),
        400,
        "reporter_not_found",
    )
    .await;
    app.sim.sim.reset_calls();
    assert_refused(
        &app,
        "nobody@example.com",
        &minimal(),
        400,
        "reporter_not_found",
    )
    .await;
    assert_eq!(app.sim.sim.calls(Endpoint::UserSearch), 0);
}

#[tokio::test]
async fn a_missing_project_offers_only_the_allowed_projects() {
    let app = spawn_app_with(|config, _| config.access.projects = ["OPS"].into()).await;
    let mut body = minimal();
    body["pid"] = json!("NOPE");
    let answer = assert_refused(&app, "alice@example.com", &body, 400, "project_not_found").await;
    let choices = answer["choices"].as_array().expect("choices");
    assert_eq!(choices.len(), 1, "{answer}");
    assert!(
        choices[0].as_str().is_some_and(|c| c.starts_with("OPS ")),
        "{answer}"
    );
    assert!(!answer["message"].to_string().contains("DEMO"), "{answer}");
}

#[tokio::test]
async fn bad_projects_types_and_components_list_the_valid_choices() {
    let app = spawn_app().await;
    let mut body = minimal();
    body["pid"] = json!("NOPE");
    let answer = assert_refused(&app, "alice@example.com", &body, 400, "project_not_found").await;
    assert!(answer["choices"].to_string().contains("DEMO"), "{answer}");

    let mut body = minimal();
    body["issuetype"] = json!("Incident");
    let answer = assert_refused(&app, "alice@example.com", &body, 400, "issuetype_not_found").await;
    assert!(answer["choices"].to_string().contains("Bug"), "{answer}");

    let mut body = minimal();
    body["components"] = json!("Backend,Mainframe");
    let answer = assert_refused(&app, "alice@example.com", &body, 400, "component_not_found").await;
    assert!(
        answer["choices"].to_string().contains("Frontend"),
        "{answer}"
    );
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Mainframe")
    );

    let mut body = minimal();
    body["priority"] = json!(9);
    let answer = assert_refused(&app, "alice@example.com", &body, 400, "invalid_field").await;
    assert_eq!(answer["field"], "priority");
}

#[tokio::test]
async fn malformed_requests_get_a_clear_400() {
    let app = spawn_app().await;
    let long = "x".repeat(256);
    for (body, code, field) in [
        (
            json!({"issuetype": "Task", "summary": "s"}),
            "missing_field",
            Some("pid"),
        ),
        (
            json!({"pid": "DEMO", "issuetype": "Task", "summary": "s", "reporter": "x"}),
            "unknown_field",
            Some("reporter"),
        ),
        (
            json!({"pid": "DEMO", "issuetype": "Task", "summary": long}),
            "invalid_field",
            Some("summary"),
        ),
        (
            json!({"pid": "DEMO", "issuetype": "Task", "summary": "two\nlines"}),
            "invalid_field",
            Some("summary"),
        ),
        (
            json!({"pid": "DEMO", "issuetype": "Task", "summary": 5}),
            "invalid_field",
            Some("summary"),
        ),
        (
            json!({"pid": "DEMO", "issuetype": "Task", "summary": "s", "assignee": "Al <a@b.c>"}),
            "invalid_field",
            Some("assignee"),
        ),
        (json!([1, 2]), "invalid_json", None),
    ] {
        let answer = assert_refused(&app, "alice@example.com", &body, 400, code).await;
        if let Some(field) = field {
            assert_eq!(answer["field"], field, "{answer}");
        }
    }

    let raw = |content_type: &'static str, body: &'static str| {
        app.http
            .post(app.url("/create_issue"))
            .header("Glean-User-Email", "alice@example.com")
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    for (content_type, body, code) in [
        ("application/json", "", "empty_body"),
        ("application/json", "{\"pid\":", "invalid_json"),
        ("text/plain", "{}", "invalid_content_type"),
        (
            "application/x-www-form-urlencoded",
            "pid=DEMO",
            "invalid_content_type",
        ),
    ] {
        let (status, answer) = json_of(raw(content_type, body).await.expect("answers")).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some(code)),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn the_user_email_header_must_be_one_plain_address() {
    let app = spawn_app().await;
    let send = |email: Option<&'static str>| {
        let mut request = app.http.post(app.url("/create_issue")).json(&minimal());
        if let Some(email) = email {
            request = request.header("Glean-User-Email", email);
        }
        request.send()
    };
    let (status, answer) = json_of(send(None).await.expect("answers")).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("missing_user_email"))
    );
    for bad in [
        "not-an-email",
        "Alice <alice@example.com>",
        "alice@example.com, bob@example.com",
    ] {
        let (status, answer) = json_of(send(Some(bad)).await.expect("answers")).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some("invalid_user_email")),
            "{bad}"
        );
    }
    assert!(app.sim.sim.issues().is_empty());
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = spawn_app().await;
    let mut body = minimal();
    body["description"] = json!("x".repeat(70 * 1024));
    let (status, answer) = app.create_json("alice@example.com", &body).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (413, Some("payload_too_large"))
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = spawn_app().await;
    let (status, answer) = json_of(
        app.http
            .get(app.url("/nope"))
            .send()
            .await
            .expect("answers"),
    )
    .await;
    assert_eq!((status, answer["error"].as_str()), (404, Some("not_found")));
    let (status, answer) = json_of(
        app.http
            .get(app.url("/create_issue"))
            .send()
            .await
            .expect("answers"),
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let health = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("answers");
    assert_eq!(health.status(), 200);
    let response = app.create("alice@example.com", &minimal()).await;
    assert!(response.headers().contains_key("x-request-id"));
}

fn fault(endpoint: Endpoint, kind: FaultKind) -> Fault {
    Fault {
        endpoint: Some(endpoint),
        kind,
        times: 1,
    }
}

fn status_fault(status: u16, retry_after: Option<u64>, body: Option<Value>) -> FaultKind {
    FaultKind::Status {
        status,
        retry_after,
        body,
    }
}

#[tokio::test]
async fn jira_failures_map_to_documented_codes() {
    let app = spawn_app().await;
    // Warm the caches so the create is the call that fails.
    assert_eq!(
        app.create_json("alice@example.com", &minimal()).await.0,
        200
    );
    let jira_400 =
        json!({"errorMessages": [], "errors": {"customfield_10050": "Team is required."}});
    // Unknown outcomes (5xx, timeouts) are looked up, never created again
    // in the same request (see lost_response.rs); the faults are set twice
    // so that a second create, if there were one, would fail too.
    let cases: Vec<(FaultKind, u32, u16, &str)> = vec![
        (
            status_fault(400, None, Some(jira_400)),
            1,
            400,
            "jira_rejected",
        ),
        (status_fault(401, None, None), 1, 401, "jira_unauthorized"),
        (status_fault(403, None, None), 1, 403, "jira_forbidden"),
        (
            status_fault(500, None, None),
            2,
            504,
            "jira_outcome_unknown",
        ),
        (
            status_fault(503, None, None),
            2,
            504,
            "jira_outcome_unknown",
        ),
        (
            status_fault(429, Some(120), None),
            1,
            429,
            "jira_rate_limited",
        ),
        (
            FaultKind::Delay(Duration::from_millis(1_500)),
            2,
            504,
            "jira_outcome_unknown",
        ),
    ];
    for (kind, times, status, code) in cases {
        app.sim.sim.clear_faults();
        app.sim.sim.push_fault(Fault {
            endpoint: Some(Endpoint::CreateIssue),
            kind,
            times,
        });
        let before = app.sim.sim.issues().len();
        // A new request each time (a repeat of a success is answered from the store).
        let mut body = minimal();
        body["summary"] = json!(format!("Printer jammed ({code})"));
        let (got, answer) = app.create_json("alice@example.com", &body).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(code)),
            "{answer}"
        );
        if code == "jira_rejected" {
            assert_eq!(answer["fields"]["customfield_10050"], "Team is required.");
        }
        if code == "jira_rate_limited" {
            assert_eq!(answer["retry_after_seconds"], 120);
        }
        assert_eq!(app.sim.sim.issues().len(), before);
    }
}

#[tokio::test]
async fn short_rate_limits_and_unavailability_are_retried() {
    let app = spawn_app().await;
    assert_eq!(
        app.create_json("alice@example.com", &minimal()).await.0,
        200
    );
    app.sim.sim.reset_calls();
    app.sim.sim.push_fault(fault(
        Endpoint::CreateIssue,
        status_fault(429, Some(1), None),
    ));
    app.sim.sim.push_fault(fault(
        Endpoint::CreateIssue,
        status_fault(503, Some(0), None),
    ));
    let mut body = minimal();
    body["summary"] = json!("Printer jammed again");
    let (status, answer) = app.create_json("alice@example.com", &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(app.sim.sim.calls(Endpoint::CreateIssue), 3);
    assert_eq!(app.sim.sim.issues().len(), 2);
}

#[tokio::test]
async fn jira_failures_during_lookups_are_mapped_too() {
    let app = spawn_app().await;
    app.sim
        .sim
        .push_fault(fault(Endpoint::UserSearch, status_fault(403, None, None)));
    let (status, answer) = app.create_json("alice@example.com", &minimal()).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("jira_forbidden"))
    );
    app.sim.sim.push_fault(fault(
        Endpoint::Project,
        FaultKind::Delay(Duration::from_secs(5)),
    ));
    // DEMO was looked up (and cached) alongside the refused user search.
    let mut ops = minimal();
    ops["pid"] = json!("OPS");
    let (status, answer) = app.create_json("alice@example.com", &ops).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (504, Some("jira_timeout")),
        "{answer}"
    );
}
