//! A flood of forged calls leaves little behind: refused signatures are
//! counted and audited in aggregate, and an overlong X-Request-Id is
//! replaced, so neither the audit table nor the log grows with the flood.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use common::*;
use jira_action::store::AuditFilter;
use serde_json::json;

const FLOOD: usize = 300;

#[tokio::test]
async fn refused_calls_with_huge_request_ids_leave_bounded_rows_and_logs() {
    let captured = CapturedLog::default();
    let writer = captured.clone();
    // What production logs by default: info, JSON lines.
    tracing_subscriber::fmt()
        .with_env_filter("info")
        .json()
        .with_writer(move || writer.clone())
        .init();
    let (app, _key) = spawn_signed_app().await;
    let state = std::sync::Arc::clone(&app.server.state);
    let audit = || async {
        state
            .store()
            .audit(&AuditFilter {
                limit: 100_000,
                ..AuditFilter::default()
            })
            .await
            .expect("audit")
    };
    let rows_before = audit().await.len();
    let log_before = captured.text().len();

    let huge_id = "r".repeat(15 * 1024);
    let body = json!({"pid": "DEMO", "issuetype": "Task", "summary": "Forged"});
    let mut echoed = std::collections::HashSet::new();
    for n in 0..FLOOD {
        let forged = if n % 2 == 0 { "not.a.jwt" } else { "" };
        let response = app
            .http
            .post(app.url("/create_issue"))
            .header("Glean-User-Email", "mallory@example.com")
            .header("Glean-Tools-Signature", forged)
            .header("X-Request-Id", huge_id.as_str())
            .json(&body)
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), 401);
        let id = response
            .headers()
            .get("x-request-id")
            .expect("a request id")
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(
            uuid::Uuid::parse_str(&id).is_ok(),
            "a generated id, not {} bytes of ours",
            id.len()
        );
        echoed.insert(id);
    }
    assert_eq!(echoed.len(), FLOOD, "one generated id per call");
    assert_eq!(
        state
            .metrics()
            .value(
                "jira_action_signature_refusals_total",
                &[("reason", "malformed")]
            )
            .unwrap_or_default()
            + state
                .metrics()
                .value(
                    "jira_action_signature_refusals_total",
                    &[("reason", "missing")]
                )
                .unwrap_or_default(),
        FLOOD as f64
    );
    assert_eq!(
        state
            .metrics()
            .value("jira_action_request_ids_replaced_total", &[]),
        Some(FLOOD as f64)
    );

    // The summary of the minute in progress is written at shutdown.
    app.server.shutdown().await.expect("stops");
    let rows = audit().await;
    let added = rows.len() - rows_before;
    assert!(
        (1..=4).contains(&added),
        "one row per caller, reason and minute, not {added} rows"
    );
    let counted: i64 = rows.iter().filter_map(|r| r.count).sum();
    assert_eq!(counted, FLOOD as i64, "the rows count every call");
    assert!(rows.iter().all(|r| r.request_id.len() <= 128));

    let log = captured.text();
    let grown = log.len() - log_before;
    assert!(
        !log.contains(&huge_id[..1024]),
        "the request id is never logged"
    );
    assert!(
        log.lines().all(|line| line.len() <= 2048),
        "every line is bounded"
    );
    assert!(
        grown <= FLOOD * 1024,
        "the log grew by {grown} bytes for {FLOOD} refused calls"
    );
}
