//! Injected faults, latency and call counters.

use std::time::{Duration, Instant};

use jira_sim::{Endpoint, Fault, FaultKind, Sim, SimConfig, demo};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{Api, admin, client, issue, send};

#[tokio::test]
async fn rate_limit_is_not_applied_and_carries_retry_after() {
    let api = Api::new().await;
    api.sim().push_fault(Fault::once(
        Endpoint::CreateIssue,
        FaultKind::rate_limited(7),
    ));
    let response = admin(api.client.post(api.site("/rest/api/3/issue")))
        .json(&issue(json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "7");
    assert!(response.headers().contains_key("x-ratelimit-reset"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["errorMessages"][0].is_string());
    assert!(api.sim().issues().is_empty(), "a 429 is never applied");
    assert!(api.sim().pending_faults().is_empty());

    let (status, _) = api.create(issue(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        api.sim().calls(Endpoint::CreateIssue),
        2,
        "faulted calls count"
    );
}

#[tokio::test]
async fn server_errors_repeat_and_match_in_order() {
    let api = Api::new().await;
    let sim = api.sim();
    sim.push_fault(
        Fault::once(
            Endpoint::Myself,
            FaultKind::Status {
                status: 503,
                retry_after: Some(2),
                body: Some(json!({"message": "maintenance"})),
            },
        )
        .times(2),
    );
    sim.push_fault(Fault::any(FaultKind::status(500)));
    // Priorities: the first matching fault is the `any` 500.
    let (status, _) = api.get_json("/rest/api/3/priority").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    for _ in 0..2 {
        let response = api.get("/rest/api/3/myself").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "2");
        assert_eq!(
            response.json::<serde_json::Value>().await.unwrap()["message"],
            "maintenance"
        );
    }
    let (status, _) = api.get_json("/rest/api/3/myself").await;
    assert_eq!(status, StatusCode::OK);

    // A 401 fault looks like the form's own 401; clear_faults drops all.
    sim.push_fault(Fault::any(FaultKind::status(401)).times(5));
    let (status, body) = send(
        api.client
            .get(api.gw("/rest/api/3/myself"))
            .bearer_auth(demo::ADMIN_OAUTH_TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"code": 401, "message": "Unauthorized"}));
    sim.clear_faults();
    let (status, _) = api.get_json("/rest/api/3/myself").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn delay_makes_clients_time_out() {
    let api = Api::new().await;
    api.sim().push_fault(Fault::once(
        Endpoint::Myself,
        FaultKind::Delay(Duration::from_millis(800)),
    ));
    let err = api
        .get("/rest/api/3/myself")
        .timeout(Duration::from_millis(150))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");

    api.sim().push_fault(Fault::once(
        Endpoint::Myself,
        FaultKind::Delay(Duration::from_millis(100)),
    ));
    let started = Instant::now();
    let (status, _) = api.get_json("/rest/api/3/myself").await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn apply_then_drop_loses_the_response_but_creates() {
    let api = Api::new().await;
    api.sim()
        .push_fault(Fault::once(Endpoint::CreateIssue, FaultKind::ApplyThenDrop));
    let err = admin(api.client.post(api.site("/rest/api/3/issue")))
        .json(&issue(json!({"summary": "lost response"})))
        .send()
        .await
        .unwrap_err();
    assert!(
        !err.is_timeout() && !err.is_connect() && err.status().is_none(),
        "{err:?}"
    );
    let issues = api.sim().issues();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].summary, "lost response");
    // The server is fine afterwards (new connection).
    let (status, created) = api.create(issue(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["key"], "DEMO-2");
}

#[tokio::test]
async fn apply_then_delay_creates_before_answering() {
    let api = Api::new().await;
    api.sim().push_fault(Fault::once(
        Endpoint::CreateIssue,
        FaultKind::ApplyThenDelay(Duration::from_millis(800)),
    ));
    let err = admin(api.client.post(api.site("/rest/api/3/issue")))
        .json(&issue(json!({})))
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(api.sim().issues().len(), 1);
}

#[tokio::test]
async fn apply_then_drop_under_another_server() {
    // `router()` served by axum: no connection control, the body fails.
    let sim = Sim::new(SimConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = sim.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    sim.push_fault(Fault::once(Endpoint::CreateIssue, FaultKind::ApplyThenDrop));
    let result = admin(client().post(format!("http://{addr}/rest/api/3/issue")))
        .json(&issue(json!({})))
        .send()
        .await;
    // Hyper may or may not have flushed the head: either way no usable answer.
    match result {
        Err(e) => assert!(e.status().is_none()),
        Ok(response) => assert!(response.bytes().await.is_err()),
    }
    assert_eq!(sim.issues().len(), 1);
}

#[tokio::test]
async fn latency_and_counters() {
    let api = Api::new().await;
    let sim = api.sim();
    sim.set_latency(Duration::from_millis(120));
    let started = Instant::now();
    let (status, _) = api.get_json("/rest/api/3/myself").await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(120));
    sim.set_latency(Duration::ZERO);

    api.get_json("/rest/api/3/priority").await;
    api.get_json("/rest/api/3/priority/search").await;
    api.get_json("/rest/api/3/project/DEMO").await;
    send(
        api.client
            .get(api.gw("/rest/api/3/project/DEMO/components"))
            .bearer_auth(demo::ADMIN_OAUTH_TOKEN),
    )
    .await;
    // Refused calls count too.
    send(api.client.get(api.site("/rest/api/3/user/search?query=a"))).await;
    assert_eq!(sim.calls(Endpoint::Myself), 1);
    assert_eq!(sim.calls(Endpoint::Priorities), 2);
    assert_eq!(sim.calls(Endpoint::Project), 1);
    assert_eq!(sim.calls(Endpoint::ProjectComponents), 1);
    assert_eq!(sim.calls(Endpoint::UserSearch), 1);
    assert_eq!(sim.calls(Endpoint::CreateIssue), 0);
    assert_eq!(sim.total_calls(), 6);
    sim.reset_calls();
    assert_eq!(sim.total_calls(), 0);
}

#[tokio::test]
async fn delayed_create_never_happens_when_the_client_gives_up() {
    let api = Api::new().await;
    api.sim().push_fault(Fault::once(
        Endpoint::CreateIssue,
        FaultKind::Delay(Duration::from_millis(300)),
    ));
    let err = admin(api.client.post(api.site("/rest/api/3/issue")))
        .json(&issue(json!({})))
        .timeout(Duration::from_millis(100))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    // The closed connection cancels the delayed request: a clean "timed
    // out and not applied" (ApplyThenDelay is the "applied" twin). Once the
    // simulator is done with it, cancelled or not, nothing was created.
    let mut tries = 0;
    while api.sim().requests_in_progress() > 0 {
        tries += 1;
        assert!(tries < 500, "the delayed create is still running");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(api.sim().issues().is_empty());
    assert_eq!(api.sim().calls(Endpoint::CreateIssue), 1);
}

#[tokio::test]
async fn delay_then_apply_creates_after_the_client_has_gone() {
    let api = Api::new().await;
    api.sim().push_fault(Fault::once(
        Endpoint::CreateIssue,
        FaultKind::DelayThenApply(Duration::from_millis(400)),
    ));
    let err = admin(api.client.post(api.site("/rest/api/3/issue")))
        .json(&issue(json!({"summary": "late commit"})))
        .timeout(Duration::from_millis(100))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(
        api.sim().issues().is_empty(),
        "not applied before the delay"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while api.sim().issues().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let issues = api.sim().issues();
    assert_eq!(issues.len(), 1, "applied although the client hung up");
    assert_eq!(issues[0].summary, "late commit");
}

#[tokio::test]
async fn search_lags_the_create_by_the_configured_time() {
    let api = Api::new().await;
    api.sim().set_search_lag(Duration::from_secs(60));
    let (status, created) = api.create(issue(json!({"summary": "indexed later"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    let search = || {
        send(
            api.get("/rest/api/3/search/jql")
                .query(&[("jql", "project = DEMO ORDER BY created DESC")]),
        )
    };
    let (status, page) = search().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["issues"], json!([]), "not in the index yet");
    // The issue itself is there at once.
    let (status, _) = api.get_json(&format!("/rest/api/3/issue/{key}")).await;
    assert_eq!(status, StatusCode::OK);
    // Indexed once the lag has passed.
    api.sim().advance_clock(Duration::from_secs(60));
    let (_, page) = search().await;
    assert_eq!(page["issues"][0]["id"], id.as_str(), "indexed: {page}");
}
