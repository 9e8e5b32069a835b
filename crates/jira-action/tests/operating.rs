//! Operating the server: rate limits and retries against a 429 storm, the
//! client-side limiter, `/metrics`, `/readyz` and request ids.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{ADMIN_EMAIL, TestApp, spawn_app, spawn_app_with};
use jira_action::config::JiraCredentials;
use jira_sim::{Endpoint, Fault, FaultKind};
use secrecy::SecretString;
use serde_json::{Value, json};

fn body(summary: &str) -> Value {
    json!({"pid": "DEMO", "issuetype": "Task", "summary": summary})
}

async fn metrics(app: &TestApp) -> String {
    let response = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.expect("text")
}

/// The value of one series line (`name{labels} value`), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn readyz(app: &TestApp) -> (u16, Value) {
    let response = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    common::json_of(response).await
}

#[tokio::test]
async fn a_429_storm_keeps_every_request_within_its_budget() {
    let budget = Duration::from_millis(2_500);
    let app = spawn_app_with(|config, _| {
        config.jira.retry_budget = budget;
        config.jira.max_requests_per_second = 0.0;
    })
    .await;
    // Every Jira endpoint answers 429 (Retry-After: 1) to the next 40 calls.
    app.sim
        .sim
        .push_fault(Fault::any(FaultKind::rate_limited(1)).times(40));
    let app = Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let app = Arc::clone(&app);
        tasks.push(tokio::spawn(async move {
            let response = app
                .create(
                    &format!("storm{i}@example.com"),
                    &body(&format!("storm {i}")),
                )
                .await;
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let paused = paused(&response);
            let (status, answer) = common::json_of(response).await;
            (paused, status, answer, retry_after)
        }));
    }
    let (mut ok, mut limited) = (0, 0);
    for task in tasks {
        let (paused, status, answer, retry_after) = task.await.expect("task");
        // The budget bounds the waiting the server planned. A cold request
        // makes its two lookups side by side, each waiting within the
        // budget, and the create only within what is left of it: the
        // waits add up to two budgets at most.
        assert!(paused <= budget * 2, "{paused:?} over budget: {answer}");
        match status {
            // storm{i} users do not exist: the documented 400.
            400 => {
                assert_eq!(answer["error"], "reporter_not_found", "{answer}");
                ok += 1;
            }
            429 => {
                assert_eq!(answer["error"], "jira_rate_limited", "{answer}");
                let seconds = answer["retry_after_seconds"].as_u64().expect("seconds");
                assert!(seconds >= 1);
                assert_eq!(retry_after, Some(seconds.to_string()));
                limited += 1;
            }
            other => panic!("undocumented answer {other}: {answer}"),
        }
    }
    assert_eq!(ok + limited, 16);
    let text = metrics(&app).await;
    assert!(
        text.contains("jira_action_jira_calls_total{endpoint=\"user_search\",status=\"429\"}"),
        "{text}"
    );
    assert!(
        text.contains("jira_action_jira_retries_total{endpoint="),
        "{text}"
    );
    assert!(
        text.contains("jira_action_jira_rate_limited_total{reason=\"jira-quota-tenant-based\"}"),
        "{text}"
    );
    assert_eq!(
        sample(&text, "jira_action_jira_ratelimit_remaining"),
        Some(0.0)
    );
}

#[tokio::test]
async fn a_storm_of_known_users_ends_in_success_or_the_documented_429() {
    let budget = Duration::from_millis(2_000);
    let app = Arc::new(
        spawn_app_with(|config, _| {
            config.jira.retry_budget = budget;
        })
        .await,
    );
    // Warm the caches: the storm hits the create.
    let (status, _) = app.create_json("alice@example.com", &body("warm")).await;
    assert_eq!(status, 200);
    app.sim.sim.push_fault(Fault {
        endpoint: Some(Endpoint::CreateIssue),
        kind: FaultKind::rate_limited(1),
        times: 12,
    });
    let mut tasks = Vec::new();
    for i in 0..10 {
        let app = Arc::clone(&app);
        tasks.push(tokio::spawn(async move {
            let response = app
                .create("alice@example.com", &body(&format!("known {i}")))
                .await;
            let paused = paused(&response);
            let (status, answer) = common::json_of(response).await;
            (paused, status, answer)
        }));
    }
    let mut created = 0;
    for task in tasks {
        let (paused, status, answer) = task.await.expect("task");
        assert!(paused <= budget, "{paused:?}: {answer}");
        match status {
            200 => created += 1,
            429 => assert_eq!(answer["error"], "jira_rate_limited"),
            other => panic!("undocumented answer {other}: {answer}"),
        }
    }
    assert!(created >= 1, "some requests outlast the storm");
    // Nothing was created twice or lost: one issue per 200, plus the warm-up.
    assert_eq!(app.sim.sim.issues().len(), created + 1);
}

#[tokio::test]
async fn a_retry_after_longer_than_the_budget_fails_at_once() {
    let app = spawn_app().await;
    app.sim
        .sim
        .push_fault(Fault::any(FaultKind::rate_limited(120)).times(10));
    let response = app.create("alice@example.com", &body("later")).await;
    // At once: no retry was waited for.
    assert_eq!(paused(&response), Duration::ZERO);
    let (status, answer) = common::json_of(response).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (429, Some("jira_rate_limited"))
    );
    assert_eq!(answer["retry_after_seconds"], 120);
    let text = metrics(&app).await;
    assert!(
        text.contains("jira_action_jira_retry_budget_exhausted_total{endpoint="),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "jira_action_requests_total{route=\"/create_issue\",status=\"429\",code=\"jira_rate_limited\"}"
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn the_client_side_limiter_spaces_bursts_without_failing_them() {
    let app = Arc::new(
        spawn_app_with(|config, _| {
            config.jira.max_requests_per_second = 5.0;
        })
        .await,
    );
    let (status, _) = app.create_json("alice@example.com", &body("warm")).await;
    assert_eq!(status, 200);
    // A burst of 10 creates (10 calls), on what the warm-up left of the
    // bucket.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let app = Arc::clone(&app);
        tasks.push(tokio::spawn(async move {
            app.create_json("alice@example.com", &body(&format!("burst {i}")))
                .await
        }));
    }
    for task in tasks {
        let (status, answer) = task.await.expect("task");
        assert_eq!(status, 200, "{answer}");
    }
    // 5 at once, then one every 200 ms.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    let text = metrics(&app).await;
    let throttled = sample(
        &text,
        "jira_action_jira_throttled_total{endpoint=\"create_issue\"}",
    )
    .expect("throttled series");
    assert!(throttled >= 4.0, "{text}");
}

#[tokio::test]
async fn the_limiter_refuses_with_the_documented_429_past_the_budget() {
    let app = Arc::new(
        spawn_app_with(|config, _| {
            config.jira.max_requests_per_second = 1.0;
            config.jira.retry_budget = Duration::from_millis(300);
        })
        .await,
    );
    // A cold request makes two lookups at once; the second would have to
    // wait a whole second for its slot, past the 300 ms budget.
    let response = app.create("alice@example.com", &body("cold")).await;
    // Refused rather than waited for.
    assert_eq!(paused(&response), Duration::ZERO);
    let (status, answer) = common::json_of(response).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (429, Some("jira_rate_limited")),
        "{answer}"
    );
    assert_eq!(answer["retry_after_seconds"], 1);
    assert_eq!(app.sim.sim.issues().len(), 0);
}

#[tokio::test]
async fn metrics_count_requests_jira_calls_and_caches() {
    let app = spawn_app().await;
    app.sim.sim.set_response_headers(&[
        ("X-RateLimit-Limit", "350"),
        ("X-RateLimit-Remaining", "42"),
        ("X-RateLimit-NearLimit", "true"),
        ("Beta-RateLimit", "\"global-app\";r=7;t=10"),
        ("Beta-RateLimit-Policy", "\"global-app\";q=70;w=10"),
    ]);
    for summary in ["one", "two"] {
        let (status, _) = app.create_json("alice@example.com", &body(summary)).await;
        assert_eq!(status, 200);
    }
    let (status, _) = app
        .create_json("alice@example.com", &json!({"pid": "DEMO"}))
        .await;
    assert_eq!(status, 400);
    let text = metrics(&app).await;
    let expect = |series: &str, value: f64| {
        assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
    };
    expect(
        "jira_action_requests_total{route=\"/create_issue\",status=\"200\",code=\"ok\"}",
        2.0,
    );
    expect(
        "jira_action_requests_total{route=\"/create_issue\",status=\"400\",code=\"missing_field\"}",
        1.0,
    );
    expect(
        "jira_action_jira_calls_total{endpoint=\"create_issue\",status=\"201\"}",
        2.0,
    );
    expect(
        "jira_action_jira_calls_total{endpoint=\"user_search\",status=\"200\"}",
        1.0,
    );
    expect(
        "jira_action_cache_requests_total{cache=\"user\",result=\"hit\"}",
        1.0,
    );
    expect(
        "jira_action_cache_requests_total{cache=\"user\",result=\"miss\"}",
        1.0,
    );
    expect(
        "jira_action_cache_requests_total{cache=\"project\",result=\"miss\"}",
        1.0,
    );
    expect("jira_action_jira_ratelimit_remaining", 42.0);
    expect("jira_action_jira_ratelimit_limit", 350.0);
    expect("jira_action_jira_ratelimit_near_limit", 1.0);
    expect("jira_action_jira_ratelimit_points_remaining", 7.0);
    expect("jira_action_in_flight_requests", 0.0);
    expect(
        "jira_action_request_duration_seconds_count{route=\"/create_issue\"}",
        3.0,
    );
    expect(
        "jira_action_jira_call_duration_seconds_count{endpoint=\"create_issue\"}",
        2.0,
    );
    assert!(text.contains("# TYPE jira_action_request_duration_seconds histogram"));
    assert!(text.contains(
        "jira_action_request_duration_seconds_bucket{route=\"/create_issue\",le=\"+Inf\"} 3"
    ));
    // Each server has its own numbers.
    let other = spawn_app().await;
    let text = metrics(&other).await;
    assert!(!text.contains("route=\"/create_issue\""), "{text}");
}

#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let app = spawn_app().await;
    let response = app.create("alice@example.com", &body("id")).await;
    let id = response.headers()["x-request-id"].to_str().expect("ascii");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let response = app
        .http
        .get(app.url("/readyz"))
        .header("x-request-id", "given-by-caller")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.headers()["x-request-id"], "given-by-caller");
}

/// `Server-Timing: jira;dur=…, pause;dur=…, store;dur=…, app;dur=…` in
/// milliseconds.
/// How long the server waited before Jira calls (rate limit and retry
/// back-off), as its `Server-Timing` says: what it planned, not how long
/// the machine took.
fn paused(response: &reqwest::Response) -> Duration {
    let pause = server_timing(response)
        .into_iter()
        .find_map(|(name, ms)| (name == "pause").then_some(ms))
        .expect("a pause entry");
    Duration::from_secs_f64(pause / 1000.0)
}

fn server_timing(response: &reqwest::Response) -> Vec<(String, f64)> {
    let header = response.headers()["server-timing"].to_str().expect("ascii");
    header
        .split(',')
        .map(|part| {
            let (name, dur) = part.trim().split_once(";dur=").expect("name;dur=ms");
            (name.to_owned(), dur.parse().expect("milliseconds"))
        })
        .collect()
}

#[tokio::test]
async fn server_timing_tells_jira_time_from_the_time_the_server_adds() {
    let app = spawn_app().await;
    // Warm the caches, then make Jira slow: the next create's one call is
    // the slow part, and the server must say so.
    app.create("alice@example.com", &body("warm")).await;
    app.sim.sim.set_latency(Duration::from_millis(150));
    let started = Instant::now();
    let response = app.create("alice@example.com", &body("slow jira")).await;
    let whole = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(response.status(), 200);
    let timing = server_timing(&response);
    let names: Vec<&str> = timing.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["jira", "pause", "store", "app"]);
    let (jira, pause, store, app_ms) = (timing[0].1, timing[1].1, timing[2].1, timing[3].1);
    assert!(jira >= 150.0, "jira {jira} ms");
    assert_eq!(pause, 0.0);
    assert!(store > 0.0, "a claim and a record were written");
    assert!(store <= app_ms, "the store's time is part of the server's");
    assert!(jira + app_ms <= whole, "{jira} + {app_ms} > {whole}");

    // A refusal before any Jira call is all the server's own time.
    let response = app
        .create("alice@example.com", &json!({"summary": "no project"}))
        .await;
    assert_eq!(response.status(), 400);
    let timing = server_timing(&response);
    assert_eq!(timing[0], ("jira".to_owned(), 0.0));

    let text = metrics(&app).await;
    assert_eq!(
        sample(
            &text,
            "jira_action_request_added_seconds_count{route=\"/create_issue\"}"
        ),
        Some(3.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "jira_action_request_added_seconds_bucket{route=\"/create_issue\",le=\"0.1\"}",
        )
        .is_some(),
        "{text}"
    );
    // The slow create's 150 ms in Jira count in the requests' time, not in
    // what the server added to it (less a microsecond for float sums).
    let seconds = |histogram: &str| {
        sample(
            &text,
            &format!("{histogram}_sum{{route=\"/create_issue\"}}"),
        )
        .expect("a sum")
    };
    let took = seconds("jira_action_request_duration_seconds");
    let added = seconds("jira_action_request_added_seconds");
    assert!(
        took - added >= 0.149_999,
        "{took} s taken, {added} s added: {text}"
    );
}

#[tokio::test]
async fn ready_with_a_valid_token_checked_at_most_every_30_seconds() {
    let app = spawn_app().await;
    let (status, answer) = readyz(&app).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "ready");
    assert_eq!(answer["checks"]["jira"], "ok");
    assert_eq!(answer["checks"]["store"], "ok");
    assert_eq!(app.sim.sim.calls(Endpoint::Myself), 1);
    // Revoked: still ready until the cached answer is 30 s old, and Jira
    // is not asked again in between.
    app.sim.sim.set_credentials(Vec::new());
    for _ in 0..5 {
        assert_eq!(readyz(&app).await.0, 200);
    }
    assert_eq!(app.sim.sim.calls(Endpoint::Myself), 1);
    // Liveness never asks Jira.
    let live = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("live");
    assert_eq!(live.status(), 200);
    assert_eq!(app.sim.sim.calls(Endpoint::Myself), 1);
}

#[tokio::test]
async fn not_ready_with_a_refused_token_or_an_unreachable_jira() {
    let app = spawn_app_with(|config, _| {
        config.jira.credentials = JiraCredentials::ApiToken {
            email: ADMIN_EMAIL.into(),
            token: SecretString::from("wrong-token"),
        };
    })
    .await;
    let (status, answer) = readyz(&app).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["status"], "not_ready");
    assert!(
        answer["checks"]["jira"]
            .as_str()
            .expect("why")
            .contains("401")
    );

    let app = spawn_app_with(|config, _| {
        config.jira.url = Some("http://127.0.0.1:9".parse().expect("url"));
    })
    .await;
    let (status, answer) = readyz(&app).await;
    assert_eq!(status, 503, "{answer}");
}

#[tokio::test]
async fn passthrough_is_ready_when_jira_answers_at_all() {
    let app = spawn_app_with(|config, _| {
        config.jira.credentials = JiraCredentials::Passthrough;
    })
    .await;
    // No token: the simulator answers 401, which proves it is reachable.
    let (status, answer) = readyz(&app).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(app.sim.sim.calls(Endpoint::Myself), 1);
}

#[tokio::test]
async fn not_ready_when_the_store_is_not_writable() {
    let app = spawn_app().await;
    app.server
        .state
        .readiness()
        .set_store_check(Arc::new(|| Box::pin(async { Err("read-only".to_owned()) })));
    let (status, answer) = readyz(&app).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["checks"]["store"], "read-only");
    assert_eq!(answer["checks"]["jira"], "ok");
}

#[tokio::test]
async fn repeats_answered_from_the_store_are_counted() {
    let app = spawn_app().await;
    let body = json!({"pid": "DEMO", "issuetype": "Task", "summary": "Counted once"});
    for _ in 0..3 {
        let (status, answer) = app.create_json("alice@example.com", &body).await;
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(app.sim.sim.issues().len(), 1);
    let text = metrics(&app).await;
    assert!(
        text.lines()
            .any(|l| l == "jira_action_duplicate_requests_total 2"),
        "{text}"
    );
}
