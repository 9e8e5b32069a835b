//! Property test of the request path: whatever the body and the email
//! header, the server answers a documented 4xx or a 200, never a 5xx or a
//! panic, and invalid input creates nothing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{Map, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        (1u64..7).prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("DEMO"),
            Just("10000"),
            Just("Task"),
            Just("Bug"),
            Just("10001"),
            Just("Backend,Frontend"),
            Just("alice@example.com"),
            Just("sam@example.com"),
            Just("**bold** [x](javascript:alert(1))"),
            Just("../myself"),
            Just(""),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Objects made mostly of the contract's own fields, so that the fuzzer
/// gets past the first checks and exercises the resolution paths too.
fn near_valid_body() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        Just("pid"),
        Just("issuetype"),
        Just("summary"),
        Just("priority"),
        Just("components"),
        Just("description"),
        Just("assignee"),
        Just("reporter"),
    ];
    prop::collection::vec((field, json_value()), 0..8).prop_map(|fields| {
        let mut object = Map::new();
        for (name, value) in fields {
            object.insert(name.to_owned(), value);
        }
        Value::Object(object)
    })
}

fn email_header() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("alice@example.com".to_owned()),
        Just("bob@example.com".to_owned()),
        Just("sam@example.com".to_owned()),
        Just("nobody@example.com".to_owned()),
        "[ -~]{0,60}",
    ]
}

#[test]
fn arbitrary_requests_never_cause_a_server_error() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let app = runtime.block_on(spawn_app());
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 400,
        ..ProptestConfig::default()
    });
    let strategy = (
        prop_oneof![json_value(), near_valid_body()],
        email_header(),
        any::<bool>(),
    );
    runner
        .run(&strategy, |(body, email, raw)| {
            let (status, answer, created) = runtime.block_on(async {
                let before = app.sim.sim.issues().len();
                let mut request = app
                    .http
                    .post(app.url("/create_issue"))
                    .header("Content-Type", "application/json");
                if let Ok(value) = reqwest::header::HeaderValue::from_str(&email) {
                    request = request.header("Glean-User-Email", value);
                }
                // Half the time, bytes that are not JSON at all.
                let mut bytes = body.to_string().into_bytes();
                if raw {
                    bytes.truncate(bytes.len() / 2);
                }
                let (status, answer) =
                    json_of(request.body(bytes).send().await.expect("answers")).await;
                (status, answer, app.sim.sim.issues().len() - before)
            });
            prop_assert!(
                [200, 400, 403, 409, 413].contains(&status),
                "status {} for {}: {}",
                status,
                body,
                answer
            );
            if status == 200 {
                prop_assert_eq!(created, 1);
                prop_assert!(answer["resultURL"].is_string());
            } else {
                prop_assert_eq!(created, 0);
                prop_assert!(answer["error"].is_string() && answer["message"].is_string());
            }
            Ok(())
        })
        .expect("no server error");
}
