//! A create whose answer is lost is looked up before it is retried, so it
//! happens exactly once.

mod common;

use std::time::Duration;

use common::*;
use jira_sim::{Endpoint, Fault, FaultKind};
use serde_json::json;

fn body() -> serde_json::Value {
    json!({"pid": "DEMO", "issuetype": "Task", "summary": "Exactly once"})
}

/// Another issue first, so that the caches are warm (the same one would be
/// answered from the idempotency store without calling Jira).
async fn warm(app: &TestApp) {
    let mut other = body();
    other["summary"] = json!("Warm-up");
    assert_eq!(app.create_json("alice@example.com", &other).await.0, 200);
    app.sim.sim.reset_calls();
}

#[tokio::test]
async fn a_dropped_connection_after_the_create_finds_the_issue() {
    let app = spawn_app().await;
    warm(&app).await;
    app.sim
        .sim
        .push_fault(Fault::once(Endpoint::CreateIssue, FaultKind::ApplyThenDrop));
    let (status, answer) = app.create_json("alice@example.com", &body()).await;
    assert_eq!(status, 200, "{answer}");
    let issues = app.sim.sim.issues();
    assert_eq!(issues.len(), 2, "the warm-up and this one, no duplicate");
    assert_eq!(answer["key"], issues[1].key.as_str());
    assert_eq!(
        app.sim.sim.calls(Endpoint::CreateIssue),
        1,
        "no second create"
    );
    assert!(app.sim.sim.calls(Endpoint::SearchJql) >= 1);
}

#[tokio::test]
async fn a_late_answer_after_the_create_finds_the_issue() {
    let app = spawn_app().await;
    warm(&app).await;
    app.sim.sim.push_fault(Fault::once(
        Endpoint::CreateIssue,
        FaultKind::ApplyThenDelay(Duration::from_secs(3)),
    ));
    let (status, answer) = app.create_json("alice@example.com", &body()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(app.sim.sim.issues().len(), 2);
    assert_eq!(app.sim.sim.calls(Endpoint::CreateIssue), 1);
}

#[tokio::test]
async fn a_create_that_did_not_happen_is_retried_once() {
    let app = spawn_app().await;
    warm(&app).await;
    // A timeout before Jira applied it, then a 500 that applied nothing.
    for (n, kind) in [
        FaultKind::Delay(Duration::from_secs(3)),
        FaultKind::status(500),
    ]
    .into_iter()
    .enumerate()
    {
        app.sim.sim.reset_calls();
        app.sim
            .sim
            .push_fault(Fault::once(Endpoint::CreateIssue, kind));
        let before = app.sim.sim.issues().len();
        let mut body = body();
        body["summary"] = json!(format!("Exactly once {n}"));
        let (status, answer) = app.create_json("alice@example.com", &body).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(app.sim.sim.issues().len(), before + 1);
        assert_eq!(app.sim.sim.calls(Endpoint::CreateIssue), 2);
    }
}

#[tokio::test]
async fn without_a_lookup_there_is_no_blind_retry() {
    let app = spawn_app().await;
    warm(&app).await;
    app.sim
        .sim
        .push_fault(Fault::once(Endpoint::CreateIssue, FaultKind::status(500)));
    app.sim.sim.push_fault(Fault {
        endpoint: Some(Endpoint::SearchJql),
        kind: FaultKind::status(500),
        times: 10,
    });
    let (status, answer) = app.create_json("alice@example.com", &body()).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (502, Some("jira_error"))
    );
    assert_eq!(app.sim.sim.calls(Endpoint::CreateIssue), 1);
}

#[tokio::test]
async fn the_lookup_matches_only_this_request() {
    let app = spawn_app().await;
    warm(&app).await;
    // Another recent issue by the same reporter in the same project must
    // not be mistaken for the lost one: here the create did not happen.
    app.sim
        .sim
        .push_fault(Fault::once(Endpoint::CreateIssue, FaultKind::status(502)));
    let (status, answer) = app.create_json("alice@example.com", &body()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(app.sim.sim.issues().len(), 2);
    assert_ne!(answer["key"], app.sim.sim.issues()[0].key.as_str());
}
