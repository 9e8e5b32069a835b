//! Fields checked against the site's create screens before the create:
//! required fields, allowed values, fields off the screen, the reporter.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use common::*;
use jira_action::config::{JiraCredentials, ReporterPolicy};
use jira_sim::demo;
use jira_sim::{CreateScreen, Endpoint};
use serde_json::{Value, json};

fn ops_bug() -> Value {
    json!({"pid": "OPS", "issuetype": "Bug", "summary": "Pager storm"})
}

async fn refused(app: &TestApp, body: &Value, status: u16, code: &str) -> Value {
    app.sim.sim.reset_calls();
    let (got, answer) = app.create_json("alice@example.com", body).await;
    assert_eq!(
        (got, answer["error"].as_str()),
        (status, Some(code)),
        "{answer}"
    );
    assert_eq!(
        app.sim.sim.calls(Endpoint::CreateIssue),
        0,
        "no create call"
    );
    assert!(app.sim.sim.issues().is_empty());
    answer
}

#[tokio::test]
async fn a_missing_required_field_is_listed_with_its_allowed_values() {
    let app = spawn_app().await;
    let answer = refused(&app, &ops_bug(), 400, "invalid_fields").await;
    let problems = answer["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 1, "{answer}");
    assert_eq!(problems[0]["field"], demo::SEVERITY_FIELD);
    assert_eq!(problems[0]["name"], "Severity");
    assert_eq!(
        problems[0]["allowed"],
        json!(["Sev 1 (id 10300)", "Sev 2 (id 10301)", "Sev 3 (id 10302)"])
    );
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Severity")
    );
}

#[tokio::test]
async fn every_problem_comes_in_one_answer() {
    let app = spawn_app().await;
    let mut body = ops_bug();
    body["priority"] = json!(5); // OPS has no Lowest.
    let answer = refused(&app, &body, 400, "invalid_fields").await;
    let fields: Vec<&str> = answer["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| p["field"].as_str().expect("field"))
        .collect();
    assert_eq!(fields, ["priority", demo::SEVERITY_FIELD], "{answer}");
    assert!(
        answer["problems"][0]["allowed"]
            .to_string()
            .contains("Low (id 4)")
    );
}

#[tokio::test]
async fn project_defaults_fill_what_the_contract_does_not_carry() {
    let app = spawn_app_with(|config, _| {
        let settings = config.projects.entry("OPS".into()).or_default();
        settings
            .defaults
            .insert(demo::SEVERITY_FIELD.into(), json!({"id": "10302"}));
    })
    .await;
    let (status, answer) = app.create_json("alice@example.com", &ops_bug()).await;
    assert_eq!(status, 200, "{answer}");
    let issue = app
        .sim
        .sim
        .issue(answer["key"].as_str().expect("key"))
        .expect("stored");
    let stored = format!("{issue:?}");
    assert!(stored.contains("10302"), "{stored}");
}

#[tokio::test]
async fn a_default_outside_the_allowed_values_is_caught_before_the_create() {
    let app = spawn_app_with(|config, _| {
        let settings = config.projects.entry("10001".into()).or_default();
        settings
            .defaults
            .insert(demo::SEVERITY_FIELD.into(), json!({"id": "99999"}));
    })
    .await;
    let answer = refused(&app, &ops_bug(), 400, "invalid_fields").await;
    assert_eq!(answer["problems"][0]["field"], demo::SEVERITY_FIELD);
}

#[tokio::test]
async fn a_field_off_the_screen_is_named() {
    let app = spawn_app().await;
    app.sim.sim.set_screen(
        "DEMO",
        demo::TASK,
        CreateScreen::default_for(&task_type()).without("labels"),
    );
    let body = json!({"pid": "DEMO", "issuetype": "Task", "summary": "s", "labels": "ui"});
    let answer = refused(&app, &body, 400, "invalid_fields").await;
    assert_eq!(answer["problems"][0]["field"], "labels");
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains("create screen")
    );
}

fn task_type() -> jira_sim::IssueType {
    jira_sim::IssueType::standard(demo::TASK, "Task", "A task")
}

#[tokio::test]
async fn without_reporter_on_the_screen_nothing_is_created_by_default() {
    let app = spawn_app().await;
    app.sim.sim.set_screen(
        "DEMO",
        demo::TASK,
        CreateScreen::default_for(&task_type()).without("reporter"),
    );
    let body = json!({"pid": "DEMO", "issuetype": "Task", "summary": "s"});
    let answer = refused(&app, &body, 403, "reporter_not_settable").await;
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("Modify Reporter") && message.contains("create screen"),
        "{message}"
    );
}

#[tokio::test]
async fn without_modify_reporter_the_creator_policy_files_and_says_so() {
    // Alice's own token lacks Modify Reporter.
    let app = spawn_app_with(|config, _| {
        if data_center() {
            config.jira.credentials = JiraCredentials::Pat {
                token: demo::ALICE_PAT.to_owned().into(),
            };
        } else {
            config.jira.credentials = JiraCredentials::ApiToken {
                email: demo::ALICE_EMAIL.into(),
                token: demo::ALICE_TOKEN.to_owned().into(),
            };
        }
        config.reporter_policy = ReporterPolicy::Creator;
    })
    .await;
    let (status, answer) = app
        .create_json(
            "bob@example.com",
            &json!({"pid": "DEMO", "issuetype": "Task", "summary": "s"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["reporterSet"], false);
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Modify Reporter")
    );
    let issue = app
        .sim
        .sim
        .issue(answer["key"].as_str().expect("key"))
        .expect("stored");
    assert!(
        format!("{issue:?}").contains(demo::ALICE_ACCOUNT_ID),
        "the creator is the reporter"
    );
}

#[tokio::test]
async fn labels_due_dates_and_parents_reach_jira() {
    let app = spawn_app().await;
    let (status, parent) = app
        .create_json(
            "alice@example.com",
            &json!({"pid": "DEMO", "issuetype": "Story", "summary": "Parent"}),
        )
        .await;
    assert_eq!(status, 200, "{parent}");
    let parent_key = parent["key"].as_str().expect("key");
    let (status, answer) = app
        .create_json(
            "alice@example.com",
            &json!({
                "pid": "DEMO", "issuetype": "Sub-task", "summary": "Child",
                "labels": "needs triage,ui", "duedate": "2030-01-31", "parent": parent_key.to_lowercase(),
            }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let issue = app.jira_issue(answer["key"].as_str().expect("key")).await;
    assert_eq!(issue["fields"]["labels"], json!(["needs-triage", "ui"]));
    assert_eq!(issue["fields"]["duedate"], "2030-01-31");
    assert_eq!(issue["fields"]["parent"]["key"], parent_key);
}

#[tokio::test]
async fn create_metadata_is_fetched_once_per_project_and_type() {
    let app = spawn_app().await;
    let body = json!({"pid": "DEMO", "issuetype": "Task", "summary": "s"});
    for _ in 0..3 {
        assert_eq!(app.create_json("alice@example.com", &body).await.0, 200);
    }
    assert_eq!(app.sim.sim.calls(Endpoint::CreateMetaFields), 1);
}

#[tokio::test]
async fn a_sub_task_without_a_parent_is_refused_before_the_create() {
    let app = spawn_app().await;
    let body = json!({"pid": "DEMO", "issuetype": "Sub-task", "summary": "Orphan"});
    app.sim.sim.reset_calls();
    let (status, answer) = app.create_json("alice@example.com", &body).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("parent"), "{answer}");
    assert_eq!(app.sim.sim.calls(Endpoint::CreateIssue), 0);
}
