//! Never a duplicate, never a lost record: idempotency and the audit trail,
//! each test run on both stores (SQLite in a temp dir, and PostgreSQL; see
//! `common/postgres.rs` for where that comes from).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use jira_action::app;
use jira_action::store::{AuditFilter, AuditRecord, Store};
use jira_sim::{Endpoint, Fault, FaultKind, SimHandle};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A store URL and what keeps it alive.
struct StoreUrl {
    url: String,
    dir: tempfile::TempDir,
}

/// None: PostgreSQL is unavailable and not required (the test is skipped).
async fn store_url(backend: Backend) -> Option<StoreUrl> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = match backend {
        Backend::Sqlite => dir.path().join("jira-action.db").display().to_string(),
        Backend::Postgres => postgres::fresh_database().await?,
    };
    Some(StoreUrl { url, dir })
}

/// Runs a test body against each store.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::Backend::Postgres).await
            }
        }
    )*};
}

on_both_stores!(
    sequential_repeats_create_once,
    concurrent_duplicates_create_once,
    two_servers_sharing_a_store_create_once,
    two_processes_sharing_a_store_create_once,
    an_idempotency_key_names_the_request,
    a_repeat_waits_for_the_first_then_gives_up,
    a_lost_response_creates_once_and_is_remembered,
    records_survive_a_restart,
    every_request_leaves_one_record,
    the_window_ends,
    retention_deletes_old_records,
    a_killed_server_does_not_block_the_retry,
    a_bad_signature_is_recorded_unverified,
    without_the_store_nothing_is_created,
    a_caller_who_hangs_up_is_recorded_and_does_not_block,
);

fn body(summary: &str) -> Value {
    json!({"pid": "DEMO", "issuetype": "Task", "summary": summary, "description": "secret *details*"})
}

async fn app_on(
    store: &StoreUrl,
    change: impl FnOnce(&mut jira_action::config::Config),
) -> TestApp {
    let url = store.url.clone();
    spawn_app_with(move |config, _| {
        config.store.url = url;
        change(config);
    })
    .await
}

async fn read_audit(store: &StoreUrl) -> Vec<AuditRecord> {
    let store = Store::open(&store.url, 1).await.expect("store opens");
    let records = store
        .audit(&AuditFilter::default())
        .await
        .expect("audit reads");
    store.close().await;
    records
}

async fn sequential_repeats_create_once(backend: Backend) {
    let Some(store) = store_url(backend).await else {
        return;
    };
    let app = app_on(&store, |_| {}).await;
    let (status, first) = app.create_json("alice@example.com", &body("Once")).await;
    assert_eq!(status, 200, "{first}");
    app.sim.sim.reset_calls();
    for _ in 0..3 {
        let (status, again) = app.create_json("alice@example.com", &body("Once")).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["resultURL"], first["resultURL"]);
        assert_eq!(again["key"], first["key"]);
    }
    assert_eq!(app.sim.sim.total_calls(), 0, "repeats never reach Jira");
    // Normalised: surrounding spaces and the project key's case do not matter.
    let same = json!({"pid": "demo", "issuetype": "task", "summary": " Once ", "description": "secret *details*"});
    let (status, again) = app.create_json("ALICE@example.com", &same).await;
    assert_eq!((status, &again["key"]), (200, &first["key"]));
    // Another caller, or other fields, is another issue.
    let (status, bob) = app.create_json("bob@example.com", &body("Once")).await;
    assert_eq!(status, 200);
    assert_ne!(bob["key"], first["key"]);
    let (_, other) = app.create_json("alice@example.com", &body("Twice")).await;
    assert_ne!(other["key"], first["key"]);
    assert_eq!(app.sim.sim.issues().len(), 3);
}

async fn concurrent_duplicates_create_once(backend: Backend) {
    let Some(store) = store_url(backend).await else {
        return;
    };
    let app = app_on(&store, |_| {}).await;
    // Slow creates, so that the duplicates really overlap the first.
    app.sim.sim.push_fault(slow_create(300));
    let answers = futures(40, |_| async {
        app.create_json("alice@example.com", &body("Clicked forty times"))
            .await
    })
    .await;
    let keys: Vec<&Value> = answers
        .iter()
        .map(|(s, a)| {
            assert_eq!(*s, 200, "{a}");
            &a["key"]
        })
        .collect();
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    assert_eq!(app.sim.sim.issues().len(), 1);
    assert_eq!(app.sim.sim.calls(Endpoint::CreateIssue), 1);
}

async fn two_servers_sharing_a_store_create_once(backend: Backend) {
    let Some(store) = store_url(backend).await else {
        return;
    };
    let one = app_on(&store, |_| {}).await;
    let mut config = test_config(&one.sim, store.dir.path());
    config.store.url = store.url.clone();
    let two = app::start(config).await.expect("second server starts");
    let two_base = format!("http://{}", two.addr);
    one.sim.sim.push_fault(slow_create(300));
    let answers = futures(30, |n| {
        let base = if n % 2 == 0 {
            one.base.clone()
        } else {
            two_base.clone()
        };
        let http = one.http.clone();
        async move {
            let response = http
                .post(format!("{base}/create_issue"))
                .header("Glean-User-Email", "alice@example.com")
                .json(&body("From two servers"))
                .send()
                .await
                .expect("answers");
            json_of(response).await
        }
    })
    .await;
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        assert_eq!(answer["key"], answers[0].1["key"]);
    }
    assert_eq!(one.sim.sim.issues().len(), 1);
}

async fn two_processes_sharing_a_store_create_once(backend: Backend) {
    let Some(store) = store_url(backend).await else {
        return;
    };
    let sim = jira_sim::Sim::spawn(common::sim_config())
        .await
        .expect("sim");
    let one = Server::spawn(&sim, &store, "one", "");
    let two = Server::spawn(&sim, &store, "two", "");
    sim.sim.push_fault(slow_create(300));
    let http = reqwest::Client::new();
    let answers = futures(24, |n| {
        let base = if n % 2 == 0 {
            one.base.clone()
        } else {
            two.base.clone()
        };
        let http = http.clone();
        async move {
            let response = http
                .post(format!("{base}/create_issue"))
                .header("Glean-User-Email", "alice@example.com")
                .json(&body("From two processes"))
                .send()
                .await
                .expect("answers");
            json_of(response).await
        }
    })
    .await;
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        assert_eq!(answer["key"], answers[0].1["key"]);
    }
    assert_eq!(sim.sim.issues().len(), 1);
    assert_eq!(sim.sim.calls(Endpoint::CreateIssue), 1);
}

async fn an_idempotency_key_names_the_request(backend: Backend) {
    let Some(store) = store_url(backend).await else {
        return;
    };
    let app = app_on(&store, |_| {}).await;
    let send = |key: &'static str, summary: &'static str| {
        let app = &app;
        async move {
            let response = app
                .http
                .post(app.url("/create_issue"))
                .header("Glean-User-Email", "alice@example.com")
                .header("Idempotency-Key", key)
                .json(&body(summary))
                .send()
                .await
                .expect("answers");
            json_of(response).await
        }
    };
    let (status, first) = send("key-1", "Keyed").await;
    assert_eq!(status, 200);
    let (status, again) = send("key-1", "Keyed").await;
    assert_eq!((status, &again["key"]), (200, &first["key"]));
    let (status, reused) = send("key-1", "Something else").await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (409, Some("idempotency_key_reused")),
        "{reused}"
    );
    // A new key is a new request, even with the same fields.
    let (status, second) = send("key-2", "Keyed").await;
    assert_eq!(status, 200);
    assert_ne!(second["key"], first["key"]);
    let (status, bad) = send("has space", "Keyed").await;
    assert_eq!(
        (status, bad["error"].as_str()),
        (400, Some("invalid_field"))
    );
    assert_eq!(app.sim.sim.issues().len(), 2);
}

async fn a_repeat_waits_for_the_first_then_gives_up(backend: Backend) {
    let Some(store) = store_url(backend).await else {
        return;
    };
    let app = app_on(&store, |config| {
        config.store.wait_for_in_progress = Duration::from_millis(200);
    })
    .await;
    app.sim.sim.push_fault(slow_create(800));
    let slow = body("Slow");
    let first = app.create_json("alice@example.com", &slow);
    // The repeat comes while the first is in Jira's slow create.
    let second = async {
        let create_started = || app.sim.sim.calls(Endpoint::CreateIssue) == 1;
        assert!(eventually(create_started).await, "the first never created");
        app.create_json("alice@example.com", &body("Slow")).await
    };
    let ((status, first), (second_status, second)) = tokio::join!(first, second);
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        (second_status, second["error"].as_str()),
        (409, Some("request_in_progress")),
        "{second}"
    );
    // Once the first is done, repeats get its answer.
    let (status, third) = app.create_json("alice@example.com", &body("Slow")).await;
    assert_eq!((status, &third["key"]), (200, &first["key"]));
    assert_eq!(app.sim.sim.issues().len(), 1);
}

async fn a_lost_response_creates_once_and_is_remembered(backend: Backend) {
    let Some(store) = store_url(backend).await else {
        return;
    };
    let app = app_on(&store, |_| {}).await;
    app.sim
        .sim
        .push_fault(Fault::once(Endpoint::CreateIssue, FaultKind::ApplyThenDrop));
    let (status, first) = app.create_json("alice@example.com", &body("Lost")).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = app.create_json("alice@example.com", &body("Lost")).await;
    assert_eq!((status, &again["key"]), (200, &first["key"]));
    assert_eq!(app.sim.sim.issues().len(), 1);
    assert_eq!(app.sim.sim.calls(Endpoint::CreateIssue), 1);
}

async fn records_survive_a_restart(backend: Backend) {
    let Some(store) = store_url(backend).await else {
        return;
    };
    let app = app_on(&store, |_| {}).await;
    let (status, first) = app.create_json("alice@example.com", &body("Durable")).await;
    assert_eq!(status, 200);
    let TestApp {
        sim, server, http, ..
    } = app;
    server.shutdown().await.expect("stops");
    let mut config = test_config(&sim, store.dir.path());
    config.store.url = store.url.clone();
    let server = app::start(config).await.expect("restarts");
    sim.sim.reset_calls();
    let response = http
        .post(format!("http://{}/create_issue", server.addr))
        .header("Glean-User-Email", "alice@example.com")
        .json(&body("Durable"))
        .send()
        .await
        .expect("answers");
    let (status, again) = json_of(response).await;
    assert_eq!((status, &again["key"]), (200, &first["key"]));
    assert_eq!(sim.sim.total_calls(), 0);
    let records = read_audit(&store).await;
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].outcome, "created");
    assert_eq!(records[1].outcome, "replayed");
}

async fn every_request_leaves_one_record(backend: Backend) {
    let Some(store) = store_url(backend).await else {
        return;
    };
    let app = app_on(&store, |_| {}).await;
    let alice = app.account_id("alice@example.com").await;
    let bob = app.account_id("bob@example.com").await;
    let mut with_assignee = body("Audited");
    with_assignee["assignee"] = json!("bob@example.com");
    let (status, created) = app.create_json("alice@example.com", &with_assignee).await;
    assert_eq!(status, 200);
    app.create_json("alice@example.com", &with_assignee).await;
    let (status, _) = app
        .create_json(
            "alice@example.com",
            &json!({"pid": "NOPE", "issuetype": "Task", "summary": "x"}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .create_json("carol@example.com", &json!({"summary": "x"}))
        .await;
    assert_eq!(status, 400);

    let records = read_audit(&store).await;
    assert_eq!(records.len(), 4, "{records:#?}");
    let first = &records[0];
    assert_eq!(first.caller.as_deref(), Some("alice@example.com"));
    assert_eq!(first.outcome, "created");
    assert_eq!(first.status, 200);
    assert_eq!(first.issue_key.as_deref(), created["key"].as_str());
    assert_eq!(first.issue_url.as_deref(), created["resultURL"].as_str());
    assert_eq!(first.reporter.as_deref(), Some(alice.as_str()));
    assert_eq!(first.assignee.as_deref(), Some(bob.as_str()));
    assert_eq!(first.project.as_deref(), Some("DEMO"));
    assert!(first.issue_type.is_some());
    assert_eq!(first.summary.as_deref(), Some("Audited"));
    assert_eq!(first.description, None, "no description unless configured");
    assert_eq!(first.signature, "unchecked");
    assert!(first.jira_calls >= 1);
    assert!(!first.request_id.is_empty());
    assert_eq!(records[1].outcome, "replayed");
    assert_eq!(records[1].jira_calls, 0);
    assert_eq!(records[2].error.as_deref(), Some("project_not_found"));
    assert_eq!(records[3].error.as_deref(), Some("missing_field"));
    assert_eq!(records[3].caller.as_deref(), Some("carol@example.com"));
    // Tokens never reach the store.
    let dump = format!("{records:?}");
    assert!(!dump.contains(ADMIN_TOKEN));

    // Descriptions only when configured.
    let store2 = match store_url(backend).await {
        Some(store) => store,
        None => return,
    };
    let app = app_on(&store2, |config| config.audit.record_descriptions = true).await;
    app.create_json("alice@example.com", &body("With description"))
        .await;
    let with_description = read_audit(&store2).await;
    assert_eq!(
        with_description[0].description.as_deref(),
        Some("secret *details*")
    );
}

async fn the_window_ends(backend: Backend) {
    let Some(store) = store_url(backend).await else {
        return;
    };
    let app = app_on(&store, |config| {
        config.store.idempotency_window = Duration::from_secs(1)
    })
    .await;
    let (_, first) = app
        .create_json("alice@example.com", &body("Windowed"))
        .await;
    app.clock.advance(Duration::from_millis(1_200));
    let (status, second) = app
        .create_json("alice@example.com", &body("Windowed"))
        .await;
    assert_eq!(status, 200);
    assert_ne!(
        second["key"], first["key"],
        "a repeat after the window is a new issue"
    );
}

async fn retention_deletes_old_records(backend: Backend) {
    let Some(store) = store_url(backend).await else {
        return;
    };
    let opened = Store::open(&store.url, 2).await.expect("opens");
    let now = jira_action::store::now_ms();
    for (id, age_days) in [("old", 91), ("recent", 89)] {
        opened
            .record(&AuditRecord {
                id: id.into(),
                at_ms: now - age_days * 86_400_000,
                outcome: jira_action::store::Outcome::Created,
                ..AuditRecord::default()
            })
            .await
            .expect("record");
    }
    let (audit, _) = opened
        .purge(Duration::from_secs(90 * 86_400))
        .await
        .expect("purge");
    assert_eq!(audit, 1);
    let left = opened.audit(&AuditFilter::default()).await.expect("read");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, "recent");
    // And the server runs it by itself.
    opened
        .record(&AuditRecord {
            id: "old2".into(),
            at_ms: now - 91 * 86_400_000,
            ..AuditRecord::default()
        })
        .await
        .expect("record");
    let _app = app_on(&store, |_| {}).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ids: Vec<String> = opened
            .audit(&AuditFilter::default())
            .await
            .expect("read")
            .into_iter()
            .map(|r| r.id)
            .collect();
        if ids == ["recent"] {
            break;
        }
        assert!(Instant::now() < deadline, "not purged: {ids:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_killed_server_does_not_block_the_retry(backend: Backend) {
    let Some(store) = store_url(backend).await else {
        return;
    };
    let sim = jira_sim::Sim::spawn(common::sim_config())
        .await
        .expect("sim");
    // Short limits, so that the lease of the killed request runs out soon.
    let (limits, lease) = killed_limits();
    let mut server = Server::spawn_with(&sim, &store, "before", &limits, &lease);
    // The create hangs; Jira applies nothing if the caller goes away.
    sim.sim.push_fault(Fault::once(
        Endpoint::CreateIssue,
        FaultKind::Delay(Duration::from_secs(2)),
    ));
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let pending = tokio::spawn({
        let http = http.clone();
        async move {
            http.post(format!("{base}/create_issue"))
                .header("Glean-User-Email", "alice@example.com")
                .json(&body("Killed"))
                .send()
                .await
        }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.sim.calls(Endpoint::CreateIssue) == 0 {
        assert!(Instant::now() < deadline, "the create never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    assert!(
        pending.await.expect("joins").is_err(),
        "no answer from a killed server"
    );

    let (server, clock) = after_the_kill(&sim, &store).await;
    // Retried as a client would: "in progress" until the dead holder's
    // lease runs out, then created.
    let answer = retry_past_the_lease(&server, &clock, "Killed", |status, answer| {
        assert_eq!(
            (status, answer["error"].as_str()),
            (409, Some("request_in_progress")),
            "{answer}"
        );
    })
    .await;
    assert!(answer["key"].is_string());
    until_the_simulator_is_done(&sim).await;
    assert_eq!(sim.sim.issues().len(), 1, "exactly one issue overall");
}

async fn a_bad_signature_is_recorded_unverified(backend: Backend) {
    let Some(store) = store_url(backend).await else {
        return;
    };
    let key = store.dir.path().join("glean.pem");
    std::fs::write(&key, glean_sim::TestSigner::shared().public_key_pem()).expect("key");
    let app = app_on(&store, |config| {
        config.glean.keys = Some(jira_action::config::GleanKeys::File(key));
    })
    .await;
    let (status, answer) = app
        .create_json("mallory@example.com", &body("Forged"))
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("invalid_signature"))
    );
    app.create_json("mallory@example.com", &body("Forged again"))
        .await;
    // Refusals are summarised per minute; stopping writes the summary.
    app.server.shutdown().await.expect("stops");
    let records = read_audit(&store).await;
    assert_eq!(records.len(), 1, "one summary row: {records:?}");
    assert_eq!(records[0].signature, "invalid");
    assert_eq!(records[0].caller.as_deref(), Some("mallory@example.com"));
    assert_eq!(records[0].error.as_deref(), Some("invalid_signature"));
    assert_eq!(records[0].reason.as_deref(), Some("missing"));
    assert_eq!(records[0].count, Some(2));
    assert_eq!(records[0].idempotency_key, None);
}

async fn a_caller_who_hangs_up_is_recorded_and_does_not_block(backend: Backend) {
    let Some(store) = store_url(backend).await else {
        return;
    };
    let app = app_on(&store, |_| {}).await;
    app.sim.sim.push_fault(slow_create(800));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    let gave_up = impatient
        .post(app.url("/create_issue"))
        .header("Glean-User-Email", "alice@example.com")
        .json(&body("Hung up"))
        .send()
        .await;
    assert!(gave_up.is_err());
    // The operation runs detached from the caller: hanging up cannot cut
    // the create short, and its record is written when it ends.
    let deadline = Instant::now() + Duration::from_secs(5);
    let records = loop {
        let records = read_audit(&store).await;
        if !records.is_empty() {
            break records;
        }
        assert!(
            Instant::now() < deadline,
            "no record of the abandoned request"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(records[0].status, 200);
    assert_eq!(records[0].outcome, "created");
    let key = records[0].issue_key.clone().expect("the issue was created");
    // The retry is not blocked: it gets the first answer, and no second issue.
    let (status, answer) = app.create_json("alice@example.com", &body("Hung up")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["key"].as_str(), Some(key.as_str()));
    assert_eq!(app.sim.sim.issues().len(), 1);
}

async fn without_the_store_nothing_is_created(backend: Backend) {
    let Some(store) = store_url(backend).await else {
        return;
    };
    let app = app_on(&store, |_| {}).await;
    app.server.state.store().close().await;
    let (status, answer) = app
        .create_json("alice@example.com", &body("No store"))
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (503, Some("store_unavailable")),
        "{answer}"
    );
    assert!(
        !answer.to_string().contains("closed"),
        "no internal cause: {answer}"
    );
    assert!(app.sim.sim.issues().is_empty());
}

/// SIGKILL after Jira applied the create but before the answer: the retry
/// takes the dead claim over flagged `recovering`, and must find the issue
/// by its property rather than create a second one.
mod a_killed_server_after_the_create_is_found_not_repeated {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::a_killed_server_after_the_create_is_found_not_repeated(super::Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::a_killed_server_after_the_create_is_found_not_repeated(super::Backend::Postgres)
            .await
    }
}

async fn a_killed_server_after_the_create_is_found_not_repeated(backend: Backend) {
    let Some(store) = store_url(backend).await else {
        return;
    };
    let sim = jira_sim::Sim::spawn(common::sim_config())
        .await
        .expect("sim");
    let (limits, lease) = killed_limits();
    let mut server = Server::spawn_with(&sim, &store, "before", &limits, &lease);
    sim.sim.push_fault(Fault::once(
        Endpoint::CreateIssue,
        FaultKind::ApplyThenDelay(Duration::from_secs(2)),
    ));
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let pending = tokio::spawn({
        let http = http.clone();
        async move {
            http.post(format!("{base}/create_issue"))
                .header("Glean-User-Email", "alice@example.com")
                .json(&body("Killed after the create"))
                .send()
                .await
        }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.sim.issues().is_empty() {
        assert!(Instant::now() < deadline, "the create never happened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    let _ = pending.await;
    let created = sim.sim.issues()[0].key.clone();

    let (server, clock) = after_the_kill(&sim, &store).await;
    let answer = retry_past_the_lease(&server, &clock, "Killed after the create", |_, _| {}).await;
    assert_eq!(answer["key"], created.as_str());
    assert_eq!(sim.sim.issues().len(), 1, "exactly one issue overall");
}

/// The next create takes this long (and applies nothing if its caller
/// goes away meanwhile).
fn slow_create(ms: u64) -> Fault {
    Fault::once(
        Endpoint::CreateIssue,
        FaultKind::Delay(Duration::from_millis(ms)),
    )
}

/// Runs `n` futures at once, all in this task.
async fn futures<F, Fut, T>(n: usize, make: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    futures_util::future::join_all((0..n).map(make)).await
}

/// The limits of a server the tests kill: short, so that its lease ends
/// soon after.
const KILLED_LEASE: Duration = Duration::from_secs(4);
const KILLED_REQUEST_TIMEOUT_MS: u64 = 3_000;
const KILLED_WAIT_FOR_IN_PROGRESS_MS: u64 = 1_000;

/// [`KILLED_LEASE`] and company as the killed binary's configuration:
/// the `[limits]` section, and the `[store]` lines.
fn killed_limits() -> (String, String) {
    (
        format!("[limits]\nrequest_timeout_ms = {KILLED_REQUEST_TIMEOUT_MS}\n"),
        format!(
            "lease_secs = {}\nwait_for_in_progress_ms = {KILLED_WAIT_FOR_IN_PROGRESS_MS}\n",
            KILLED_LEASE.as_secs()
        ),
    )
}

/// The server that takes over from a killed one: in this process, with
/// the killed one's limits and a clock the test moves past its lease.
async fn after_the_kill(sim: &SimHandle, store: &StoreUrl) -> (app::RunningServer, TestClock) {
    let mut config = test_config(sim, store.dir.path());
    config.store.url = store.url.clone();
    config.limits.request_timeout = Duration::from_millis(KILLED_REQUEST_TIMEOUT_MS);
    config.jira.request_timeout = Duration::from_millis(2_500);
    config.store.lease = Some(KILLED_LEASE);
    config.store.wait_for_in_progress = Duration::from_millis(KILLED_WAIT_FOR_IN_PROGRESS_MS);
    config.validate().expect("valid configuration");
    let clock = TestClock::default();
    let server = app::start_with_clock(config, clock.clock())
        .await
        .expect("server starts");
    (server, clock)
}

/// Retries the request as a client would until it is answered 200; each
/// other answer goes to `not_yet`, then the clock passes the dead holder's
/// lease (so at most one other answer, unless the lease had run out).
async fn retry_past_the_lease(
    server: &app::RunningServer,
    clock: &TestClock,
    summary: &str,
    not_yet: impl Fn(u16, &Value),
) -> Value {
    let http = reqwest::Client::new();
    for _ in 0..2 {
        let response = http
            .post(format!("http://{}/create_issue", server.addr))
            .header("Glean-User-Email", "alice@example.com")
            .json(&body(summary))
            .send()
            .await
            .expect("answers");
        let (status, answer) = json_of(response).await;
        if status == 200 {
            return answer;
        }
        not_yet(status, &answer);
        clock.advance(KILLED_LEASE);
    }
    panic!("still blocked after the lease ran out");
}

/// Waits until the simulator has finished (or dropped) every request,
/// the killed server's included, so that counting issues is final.
async fn until_the_simulator_is_done(sim: &SimHandle) {
    for _ in 0..500 {
        if sim.sim.requests_in_progress() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the simulator is still answering");
}

/// The real binary, as its own OS process.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn spawn(sim: &SimHandle, store: &StoreUrl, name: &str, extra: &str) -> Server {
        Server::spawn_with(sim, store, name, extra, "")
    }

    fn spawn_with(
        sim: &SimHandle,
        store: &StoreUrl,
        name: &str,
        top: &str,
        store_extra: &str,
    ) -> Server {
        let config = format!(
            "listen = \"127.0.0.1:0\"\n{top}\n{jira}request_timeout_ms = 2500\n\
             [glean]\nallow_unsigned = true\n[store]\nurl = \"{url}\"\n{store_extra}",
            jira = common::jira_toml(&sim.base_url()),
            url = store.url,
        );
        let path = store.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, config).expect("write config");
        start_binary(&path)
    }

    /// SIGKILL: no shutdown, no cleanup.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn start_binary(config: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jira-action"))
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("jira-action listening on ") {
                let _ = tx.send(addr.to_owned());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the binary listens");
    Server { child, base }
}

/// The migrations as earlier versions applied them: sqlx's migrator, fed
/// by hand with these descriptions, on both backends.
const OLD_MIGRATIONS: [(i64, &str, &str); 7] = [
    (1, "store", include_str!("../migrations/0001_store.sql")),
    (2, "oauth", include_str!("../migrations/0002_oauth.sql")),
    (
        3,
        "front_doors",
        include_str!("../migrations/0003_front_doors.sql"),
    ),
    (
        4,
        "refusal_counts",
        include_str!("../migrations/0004_refusal_counts.sql"),
    ),
    (5, "settle", include_str!("../migrations/0005_settle.sql")),
    (6, "signin", include_str!("../migrations/0006_signin.sql")),
    (
        7,
        "signin_oidc",
        include_str!("../migrations/0007_signin_oidc.sql"),
    ),
];

fn old_migration(
    (version, description, sql): (i64, &'static str, &'static str),
) -> sqlx::migrate::Migration {
    sqlx::migrate::Migration::new(
        version,
        std::borrow::Cow::Borrowed(description),
        sqlx::migrate::MigrationType::Simple,
        std::borrow::Cow::Borrowed(sql),
        false,
    )
}

/// A record an earlier version wrote.
const OLD_RECORD: &str = "INSERT INTO audit (id, at, request_id, signature, outcome, status, \
     jira_calls, latency_ms) VALUES ('old', 1, 'r', 'verified', 'created', 200, 1, 5)";

/// Opens a store an earlier version left and checks it kept its record and
/// gained the tables of the migrations it lacked.
async fn opens_with_its_record(url: &str) {
    let store = Store::open(url, 1).await.expect("an old store opens");
    let ids: Vec<String> = store
        .audit(&AuditFilter::default())
        .await
        .expect("read")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["old"]);
    assert!(
        store
            .signin_grants()
            .await
            .expect("signin tables")
            .is_empty(),
        "the missing migrations ran"
    );
    store.close().await;
}

/// An SQLite file migrated by sqlx (its history in `_sqlx_migrations`,
/// `user_version` 0) opens: fully migrated, or part way (the rest runs).
#[tokio::test]
async fn an_sqlite_store_migrated_by_sqlx_opens() {
    for applied in [5, 7] {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("old.db");
        {
            let db = rusqlite::Connection::open(&path).expect("creates");
            // The history table as sqlx-sqlite 0.8 creates it.
            db.execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE _sqlx_migrations (
                     version BIGINT PRIMARY KEY,
                     description TEXT NOT NULL,
                     installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
                     success BOOLEAN NOT NULL,
                     checksum BLOB NOT NULL,
                     execution_time BIGINT NOT NULL
                 );",
            )
            .expect("history");
            for old in &OLD_MIGRATIONS[..applied] {
                let migration = old_migration(*old);
                db.execute_batch(&migration.sql).expect("migrates");
                db.execute(
                    "INSERT INTO _sqlx_migrations \
                     (version, description, success, checksum, execution_time) \
                     VALUES (?1, ?2, TRUE, ?3, 0)",
                    rusqlite::params![
                        migration.version,
                        migration.description.as_ref(),
                        migration.checksum.as_ref()
                    ],
                )
                .expect("recorded");
            }
            db.execute(OLD_RECORD, []).expect("old record");
        }
        opens_with_its_record(path.to_str().expect("utf-8")).await;
        let db = rusqlite::Connection::open(&path).expect("opens");
        let version: i64 = db
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .expect("user_version");
        assert_eq!(version, 7, "applied {applied} by sqlx");
    }
}

/// A PostgreSQL database migrated by the hand-fed migrator of earlier
/// versions opens with `sqlx::migrate!`: same table, same checksums.
#[tokio::test]
async fn a_postgres_store_migrated_by_the_old_migrator_opens() {
    for applied in [5, 7] {
        let Some(url) = postgres::fresh_database().await else {
            return;
        };
        let pool = sqlx::PgPool::connect(&url).await.expect("connects");
        let old = sqlx::migrate::Migrator {
            migrations: std::borrow::Cow::Owned(
                OLD_MIGRATIONS[..applied]
                    .iter()
                    .copied()
                    .map(old_migration)
                    .collect(),
            ),
            ..sqlx::migrate::Migrator::DEFAULT
        };
        old.run(&pool).await.expect("the old migrator runs");
        sqlx::query(OLD_RECORD)
            .execute(&pool)
            .await
            .expect("old record");
        pool.close().await;
        opens_with_its_record(&url).await;
    }
}
