//! Connection hygiene under hostile clients, black-box over raw TCP: idle
//! and slow-header connections are closed, a body that stops arriving
//! frees its slot at the request deadline, requests past the concurrency
//! limit are refused at once, and the connection cap holds extra
//! connections until others close.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for the server to do what it should; the server
/// is configured to do it far sooner.
const PATIENCE: Duration = Duration::from_secs(20);

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.server.addr)
        .await
        .expect("server accepts")
}

/// Reads until the server closes the connection (EOF or reset); false if it
/// has not within [`PATIENCE`].
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(PATIENCE, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// Reads one HTTP/1.1 response (headers and a Content-Length body): its
/// status and body.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if data.len() >= end + 4 + length {
                    let status = head
                        .split_whitespace()
                        .nth(1)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]);
                    return (status, body.into_owned());
                }
            }
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "connection closed before a full response");
            data.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("a response in time")
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";

async fn healthz_over(stream: &mut TcpStream) -> u16 {
    stream.write_all(HEALTHZ).await.expect("write");
    read_response(stream).await.0
}

/// A connection sending [`STALLED_CREATE`].
async fn stalled_create(app: &TestApp) -> TcpStream {
    let mut stream = connect(app).await;
    stream.write_all(STALLED_CREATE).await.expect("write");
    stream
}

async fn create_ok(app: &TestApp) {
    let body = json!({"pid": "DEMO", "issuetype": "Task", "summary": "Still served"});
    let (status, answer) = app.create_json("alice@example.com", &body).await;
    assert_eq!(status, 200, "{answer}");
}

fn metric(app: &TestApp, name: &str, labels: &[(&str, &str)]) -> f64 {
    app.server
        .state
        .metrics()
        .value(name, labels)
        .unwrap_or_default()
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let app = spawn_app_with(|config, _| {
        config.limits.idle_timeout = Duration::from_millis(300);
        // Long, so that only the idle timeout can close them.
        config.limits.header_read_timeout = Duration::from_millis(60_000);
    })
    .await;
    // A connection that never sends a byte, and a keep-alive connection
    // after its first request.
    let mut silent = connect(&app).await;
    let mut kept_alive = connect(&app).await;
    assert_eq!(healthz_over(&mut kept_alive).await, 200);
    assert_eq!(healthz_over(&mut kept_alive).await, 200, "keep-alive works");
    create_ok(&app).await;
    assert!(closed_by_server(&mut silent).await, "a silent connection");
    assert!(
        closed_by_server(&mut kept_alive).await,
        "an idle keep-alive connection"
    );
    assert!(
        metric(
            &app,
            "jira_action_connections_closed_total",
            &[("reason", "idle")]
        ) >= 2.0
    );
    create_ok(&app).await;
}

#[tokio::test]
async fn a_connection_that_stops_mid_headers_is_closed() {
    let app = spawn_app_with(|config, _| {
        config.limits.header_read_timeout = Duration::from_millis(300);
        config.limits.idle_timeout = Duration::from_millis(60_000);
    })
    .await;
    let mut slow = connect(&app).await;
    slow.write_all(b"POST /create_issue HTTP/1.1\r\nHost: test\r\nGlean-User-Em")
        .await
        .expect("write");
    create_ok(&app).await;
    assert!(
        closed_by_server(&mut slow).await,
        "half the headers, then nothing"
    );
    assert!(
        metric(
            &app,
            "jira_action_connections_closed_total",
            &[("reason", "header_timeout")]
        ) >= 1.0
    );
    // An idle connection is not held to the header timeout.
    let mut idle = connect(&app).await;
    assert_eq!(healthz_over(&mut idle).await, 200);
    create_ok(&app).await;
}

#[tokio::test]
async fn a_stalled_body_frees_its_slot_at_the_request_deadline() {
    let app = spawn_app_with(|config, _| {
        config.limits.max_concurrent_requests = 2;
        config.limits.request_timeout = Duration::from_millis(1_000);
        config.store.wait_for_in_progress = Duration::from_millis(100);
    })
    .await;
    let mut stalled = Vec::new();
    for _ in 0..2 {
        stalled.push(stalled_create(&app).await);
    }
    // Both hold a slot...
    let state = &app.server.state;
    assert!(
        eventually(|| state.in_flight().available_permits() == 0).await,
        "the stalled requests hold both slots"
    );
    // ...until their deadline, when they are answered 408.
    for stream in &mut stalled {
        let (status, body) = read_response(stream).await;
        assert_eq!(status, 408, "{body}");
        let body: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(body["error"], "request_timeout");
        assert!(body["message"].is_string());
    }
    create_ok(&app).await;
}

#[tokio::test]
async fn past_the_concurrency_limit_both_doors_answer_503_overloaded_at_once() {
    let app = spawn_app_with(|config, _| {
        config.limits.max_concurrent_requests = 1;
        config.limits.request_timeout = Duration::from_millis(60_000);
    })
    .await;
    // A body that never finishes holds the only slot.
    let stalled = stalled_create(&app).await;
    let state = &app.server.state;
    assert!(
        eventually(|| state.in_flight().available_permits() == 0).await,
        "the stalled request holds the slot"
    );
    // Refused, not queued: each answer comes while the slot is still held.
    let busy = json!({"pid": "DEMO", "issuetype": "Task", "summary": "Busy"});
    let (status, answer) = app.create_json("alice@example.com", &busy).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (503, Some("overloaded")),
        "{answer}"
    );
    assert!(answer["message"].is_string());
    // The one limit spans the MCP door too (checked before its API key).
    let mcp = app
        .http
        .post(app.url("/mcp"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}"#)
        .send()
        .await
        .expect("mcp");
    assert_eq!(mcp.status(), 503);
    let answer: serde_json::Value = mcp.json().await.expect("json");
    assert_eq!(answer["error"], "overloaded");
    let refused = |route| {
        metric(
            &app,
            "jira_action_requests_total",
            &[("route", route), ("status", "503"), ("code", "overloaded")],
        )
    };
    assert_eq!((refused("/create_issue"), refused("/mcp")), (1.0, 1.0));
    // The slot comes back when the stalled request goes.
    drop(stalled);
    assert!(
        eventually(|| state.in_flight().available_permits() == 1).await,
        "the slot is released"
    );
    create_ok(&app).await;
}

#[tokio::test]
async fn the_connection_cap_holds_extra_connections_until_one_closes() {
    let app = spawn_app_with(|config, _| {
        config.limits.max_connections = 2;
    })
    .await;
    // Two connections, accepted and kept open.
    let mut first = connect(&app).await;
    assert_eq!(healthz_over(&mut first).await, 200);
    let mut second = connect(&app).await;
    assert_eq!(healthz_over(&mut second).await, 200);
    let state = &app.server.state;
    assert!(
        eventually(|| state.connections().available_permits() == 0).await,
        "both count against the cap"
    );
    assert!(
        eventually(|| metric(&app, "jira_action_connection_cap_reached_total", &[]) >= 1.0).await,
        "the accept loop waits for a slot"
    );
    // A third is left in the backlog: its request is not read.
    let mut third = connect(&app).await;
    third.write_all(HEALTHZ).await.expect("write");
    let mut buf = [0u8; 64];
    assert!(
        matches!(third.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "no answer while the cap is reached"
    );
    // One closes: the third is served, and after the second closes too,
    // the server serves everyone again.
    drop(first);
    assert_eq!(read_response(&mut third).await.0, 200);
    drop(second);
    create_ok(&app).await;
}
