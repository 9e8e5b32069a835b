//! A create whose answer is lost is looked up before it is retried, so it
//! happens exactly once: never created again in the same request, and
//! looked up again only once it has had time to land in Jira and in its
//! search (`jira.outcome_settle`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use jira_sim::{Endpoint, Fault, FaultKind};
use serde_json::{Value, json};

fn body() -> serde_json::Value {
    json!({"pid": "DEMO", "issuetype": "Task", "summary": "Exactly once"})
}

/// A server whose retries may look again after `settle_ms`.
async fn app_settling(settle_ms: u64) -> TestApp {
    spawn_app_with(move |config, _| {
        config.jira.outcome_settle = Some(Duration::from_millis(settle_ms))
    })
    .await
}

/// Asserts a `504 jira_outcome_unknown` with a `Retry-After` (seconds,
/// 1 to `most`), and returns that.
fn assert_outcome_unknown(status: u16, retry_after: Option<u64>, answer: &Value, most: u64) -> u64 {
    assert_eq!(
        (status, answer["error"].as_str()),
        (504, Some("jira_outcome_unknown")),
        "{answer}"
    );
    let seconds = retry_after.expect("a Retry-After header");
    assert!((1..=most).contains(&seconds), "Retry-After: {seconds}");
    assert_eq!(answer["retry_after_seconds"], seconds);
    seconds
}

/// One `POST /create_issue`: status, `Retry-After`, body.
async fn send(app: &TestApp, body: &Value) -> (u16, Option<u64>, Value) {
    let response = app.create("alice@example.com", body).await;
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let (status, answer) = json_of(response).await;
    (status, retry_after, answer)
}

/// Repeats the request as a client would until it is no longer told that
/// the outcome is unknown (each such answer checked), waiting what each
/// answer's Retry-After says on the server's and Jira's clocks, a few
/// times at most.
async fn retry_until_settled(app: &TestApp, body: &Value) -> (u16, Value) {
    for _ in 0..5 {
        let (status, retry_after, answer) = send(app, body).await;
        if answer["error"] != "jira_outcome_unknown" {
            return (status, answer);
        }
        let wait = Duration::from_secs(assert_outcome_unknown(status, retry_after, &answer, 60));
        app.clock.advance(wait);
        app.sim.sim.advance_clock(wait);
    }
    panic!("never settled");
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
async fn a_create_that_did_not_happen_is_created_by_a_later_retry() {
    let app = app_settling(200).await;
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
        // Not created again in the same request: Jira may still commit it.
        let (status, retry_after, answer) = send(&app, &body).await;
        assert_outcome_unknown(status, retry_after, &answer, 1);
        assert_eq!(app.sim.sim.issues().len(), before);
        assert_eq!(app.sim.sim.calls(Endpoint::CreateIssue), 1);
        // Once settled, a retry looks, finds nothing, and creates it.
        let (status, answer) = retry_until_settled(&app, &body).await;
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
    let (status, retry_after, answer) = send(&app, &body()).await;
    assert_outcome_unknown(status, retry_after, &answer, 60);
    assert_eq!(app.sim.sim.calls(Endpoint::CreateIssue), 1);
}

#[tokio::test]
async fn the_lookup_matches_only_this_request() {
    let app = app_settling(200).await;
    warm(&app).await;
    // Another recent issue by the same reporter in the same project must
    // not be mistaken for the lost one: here the create did not happen.
    app.sim
        .sim
        .push_fault(Fault::once(Endpoint::CreateIssue, FaultKind::status(502)));
    let (status, retry_after, answer) = send(&app, &body()).await;
    assert_outcome_unknown(status, retry_after, &answer, 1);
    let (status, answer) = retry_until_settled(&app, &body()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(app.sim.sim.issues().len(), 2);
    assert_ne!(answer["key"], app.sim.sim.issues()[0].key.as_str());
}

#[tokio::test]
async fn a_create_committed_after_the_timeout_is_never_made_twice() {
    // The client gives up at 1 s (`jira.request_timeout`); Jira commits
    // the create at 2.5 s, after the same-request lookup found nothing.
    let app = app_settling(3_000).await;
    warm(&app).await;
    app.sim.sim.push_fault(Fault::once(
        Endpoint::CreateIssue,
        FaultKind::DelayThenApply(Duration::from_millis(2_500)),
    ));
    let (status, retry_after, answer) = send(&app, &body()).await;
    assert_outcome_unknown(status, retry_after, &answer, 3);
    // It lands after the answer, with nobody waiting for it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.sim.sim.issues().len() < 2 {
        assert!(Instant::now() < deadline, "the slow create never landed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, answer) = retry_until_settled(&app, &body()).await;
    assert_eq!(status, 200, "{answer}");
    let issues = app.sim.sim.issues();
    assert_eq!(issues.len(), 2, "the warm-up and this one, no duplicate");
    assert_eq!(answer["key"], issues[1].key.as_str());
    assert_eq!(app.sim.sim.calls(Endpoint::CreateIssue), 1, "one create");
    // Repeats now get the stored answer.
    let (status, again) = app.create_json("alice@example.com", &body()).await;
    assert_eq!((status, &again["key"]), (200, &answer["key"]));
    assert_eq!(app.sim.sim.issues().len(), 2);
}

#[tokio::test]
async fn a_retry_before_the_settle_time_is_refused_without_looking() {
    let app = app_settling(60_000).await;
    warm(&app).await;
    app.sim
        .sim
        .push_fault(Fault::once(Endpoint::CreateIssue, FaultKind::status(500)));
    let (status, retry_after, answer) = send(&app, &body()).await;
    assert_eq!(assert_outcome_unknown(status, retry_after, &answer, 60), 60);
    app.sim.sim.reset_calls();
    let (status, retry_after, answer) = send(&app, &body()).await;
    let left = assert_outcome_unknown(status, retry_after, &answer, 60);
    assert!(left >= 50, "the time left, {left} s, of the settle time");
    assert_eq!(
        app.sim.sim.total_calls(),
        0,
        "neither looked for nor created"
    );
    assert_eq!(app.sim.sim.issues().len(), 1, "only the warm-up");
}

/// After the warm-up, a create applied at once whose answer is lost, while
/// search sees new issues only 2 s later: the lookup in the same request
/// finds nothing, and the answer is `jira_outcome_unknown` (Retry-After at
/// most `most`).
async fn lose_behind_search_lag(app: &TestApp, most: u64) {
    warm(app).await;
    app.sim.sim.set_search_lag(Duration::from_secs(2));
    app.sim
        .sim
        .push_fault(Fault::once(Endpoint::CreateIssue, FaultKind::ApplyThenDrop));
    let (status, retry_after, answer) = send(app, &body()).await;
    assert_outcome_unknown(status, retry_after, &answer, most);
}

#[tokio::test]
async fn a_lookup_whose_search_lags_never_duplicates() {
    let app = app_settling(3_000).await;
    lose_behind_search_lag(&app, 3).await;
    assert!(app.sim.sim.calls(Endpoint::SearchJql) >= 1, "it looked");
    assert_eq!(app.sim.sim.issues().len(), 2);
    let (status, answer) = retry_until_settled(&app, &body()).await;
    assert_eq!(status, 200, "{answer}");
    let issues = app.sim.sim.issues();
    assert_eq!(issues.len(), 2, "the warm-up and this one, no duplicate");
    assert_eq!(answer["key"], issues[1].key.as_str());
    assert_eq!(app.sim.sim.calls(Endpoint::CreateIssue), 1);
}

#[tokio::test]
async fn the_lost_issue_is_found_behind_many_newer_ones() {
    let app = app_settling(300).await;
    lose_behind_search_lag(&app, 1).await;
    let lost = app.sim.sim.issues()[1].key.clone();
    app.sim.sim.set_search_lag(Duration::ZERO);
    // Alice files 150 more in the project meanwhile: the lookup (newest
    // first) must read past the first page.
    let alice = app.account_id("alice@example.com").await;
    for n in 0..150 {
        let response = app
            .jira_post(
                "issue",
                &json!({"fields": {
                    "project": {"key": "DEMO"},
                    "issuetype": {"name": "Task"},
                    "summary": format!("Newer {n}"),
                    "reporter": user_ref(&alice),
                }}),
            )
            .await;
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
    }
    let (status, answer) = retry_until_settled(&app, &body()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["key"], lost.as_str());
    assert_eq!(app.sim.sim.issues().len(), 152, "no duplicate");
    assert_eq!(app.sim.sim.calls(Endpoint::CreateIssue), 151);
}
