//! Passthrough mode: each call brings its own Jira credential, and what
//! Jira answered one credential (projects, create screens, users, "not
//! found", the project list) is never reused for another.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use common::*;
use jira_action::config::JiraCredentials;
use jira_sim::{Credential, Endpoint, Permission, demo};
use serde_json::{Value, json};

/// Sees only OPS.
const OPS_ONLY: &str = "Bearer ops-only";
/// Sees everything.
const EVERYTHING: &str = "Bearer everything";
/// Everything but Browse users: its user searches come back empty.
const NO_USER_PICKER: &str = "Bearer no-user-picker";
/// Everything but Modify reporter: no reporter on its create screens.
const NO_REPORTER: &str = "Bearer no-reporter";

async fn passthrough_app() -> TestApp {
    let app = spawn_app_with(|config, _| {
        config.jira.credentials = JiraCredentials::Passthrough;
    })
    .await;
    let sim = &app.sim.sim;
    sim.add_credential(bearer("ops-only").in_projects(&["OPS"]));
    sim.add_credential(bearer("everything"));
    sim.add_credential(bearer("no-user-picker").without(Permission::UserPicker));
    sim.add_credential(bearer("no-reporter").without(Permission::ModifyReporter));
    app
}

/// The admin's bearer token: an OAuth token on Cloud, a personal access
/// token on Data Center.
fn bearer(token: &str) -> Credential {
    if data_center() {
        Credential::pat(token, demo::ADMIN_USERNAME)
    } else {
        Credential::bearer(token, demo::ADMIN_ACCOUNT_ID)
    }
}

fn issue(pid: &str, summary: &str) -> Value {
    json!({"pid": pid, "issuetype": "Task", "summary": summary})
}

async fn create(app: &TestApp, authorization: &str, body: &Value) -> (u16, Value) {
    app.create_with_auth("alice@example.com", authorization, body)
        .await
}

fn assert_refused(status: u16, answer: &Value, want: u16, code: &str) {
    assert_eq!(
        (status, answer["error"].as_str()),
        (want, Some(code)),
        "{answer}"
    );
}

fn choice_keys(answer: &Value) -> Vec<String> {
    answer["choices"]
        .as_array()
        .map(|choices| {
            choices
                .iter()
                .filter_map(|c| c.as_str())
                .filter_map(|c| c.split(' ').next())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn one_credentials_missing_project_is_not_anothers() {
    let app = passthrough_app().await;
    // Learnt negative with one credential...
    let (status, answer) = create(&app, OPS_ONLY, &issue("DEMO", "Negative first")).await;
    assert_refused(status, &answer, 400, "project_not_found");
    assert_eq!(choice_keys(&answer), ["OPS"], "its own project list");
    // ...is not another's answer.
    let (status, answer) = create(&app, EVERYTHING, &issue("DEMO", "Negative first")).await;
    assert_eq!(status, 200, "{answer}");
    // Learnt positive with one credential is not another's either.
    let (status, answer) = create(&app, EVERYTHING, &issue("demo", "Positive first")).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = create(&app, OPS_ONLY, &issue("demo", "Positive first")).await;
    assert_refused(status, &answer, 400, "project_not_found");
    // Each is shown its own project list.
    let (status, answer) = create(&app, EVERYTHING, &issue("NOPE", "No such project")).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(choice_keys(&answer), ["DEMO", "OPS"]);
    let (_, answer) = create(&app, OPS_ONLY, &issue("NOPE", "No such project")).await;
    assert_eq!(choice_keys(&answer), ["OPS"]);
    assert_eq!(app.sim.sim.issues().len(), 2);
}

#[tokio::test]
async fn one_credentials_empty_user_search_is_not_anothers() {
    let app = passthrough_app().await;
    let (status, answer) = create(&app, NO_USER_PICKER, &issue("DEMO", "Who am I")).await;
    assert_refused(status, &answer, 400, "reporter_not_found");
    let (status, answer) = create(&app, EVERYTHING, &issue("DEMO", "Who am I")).await;
    assert_eq!(status, 200, "{answer}");
    let created = app.sim.sim.issues().pop().expect("created");
    assert_eq!(created.reporter.as_deref(), Some(demo::ALICE_ACCOUNT_ID));
    // And the other way round: a found user is not found for a credential
    // that cannot search users.
    let (status, answer) = create(&app, NO_USER_PICKER, &issue("DEMO", "Who am I, again")).await;
    assert_refused(status, &answer, 400, "reporter_not_found");
}

#[tokio::test]
async fn each_credential_gets_its_own_create_screen() {
    let app = passthrough_app().await;
    // Without Modify reporter the screen has no reporter field: the issue
    // cannot be filed in alice's name (the default policy, require)...
    let (status, answer) = create(&app, NO_REPORTER, &issue("DEMO", "Screens")).await;
    assert_refused(status, &answer, 403, "reporter_not_settable");
    // ...which says nothing of another credential's screen...
    let (status, answer) = create(&app, EVERYTHING, &issue("DEMO", "Screens")).await;
    assert_eq!(status, 200, "{answer}");
    // ...nor the other way round.
    let (status, answer) = create(&app, EVERYTHING, &issue("OPS", "Screens")).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = create(&app, NO_REPORTER, &issue("OPS", "Screens")).await;
    assert_refused(status, &answer, 403, "reporter_not_settable");
}

#[tokio::test]
async fn a_repeat_with_another_credential_is_not_answered_from_the_store() {
    let app = passthrough_app().await;
    let body = issue("DEMO", "Stored once");
    let (status, first) = create(&app, EVERYTHING, &body).await;
    assert_eq!(status, 200, "{first}");
    // The same credential's repeat is the stored answer, without Jira.
    app.sim.sim.reset_calls();
    let (status, again) = create(&app, EVERYTHING, &body).await;
    assert_eq!((status, &again["key"]), (200, &first["key"]));
    assert_eq!(app.sim.sim.total_calls(), 0);
    // A wrong credential is shown to Jira, which refuses it.
    let (status, answer) = create(&app, "Bearer not-a-token", &body).await;
    assert_refused(status, &answer, 401, "jira_unauthorized");
    assert!(app.sim.sim.total_calls() > 0, "Jira saw the credential");
    assert!(answer.get("key").is_none(), "no issue given away: {answer}");
    // So is another valid one that cannot see the project.
    app.sim.sim.reset_calls();
    let (status, answer) = create(&app, OPS_ONLY, &body).await;
    assert_refused(status, &answer, 400, "project_not_found");
    assert!(app.sim.sim.calls(Endpoint::Project) > 0);
    assert_eq!(app.sim.sim.issues().len(), 1);
}
