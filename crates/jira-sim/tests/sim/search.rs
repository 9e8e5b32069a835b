//! `search/jql`: the tiny JQL, fields, properties and token pagination.

use jira_sim::demo;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Api, admin, issue, send};

async fn seed(api: &Api) {
    for n in 1..=3 {
        let mut body = issue(json!({"summary": format!("admin {n}")}));
        body["properties"] = json!([{"key": "jira-action", "value": {"n": n}}]);
        let (status, _) = api.create(body).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, _) = send(
        api.client
            .post(api.site("/rest/api/3/issue"))
            .basic_auth(demo::ALICE_EMAIL, Some(demo::ALICE_TOKEN))
            .json(&issue(json!({"summary": "alice"}))),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    api.create(issue(json!({"project": {"key": "OPS"}}))).await;
}

async fn jql(api: &Api, query: &[(&str, &str)]) -> (StatusCode, Value) {
    send(api.get("/rest/api/3/search/jql").query(query)).await
}

fn keys(page: &Value) -> Vec<&str> {
    page["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn finds_recent_issues_by_reporter() {
    let api = Api::new().await;
    seed(&api).await;
    let query = format!(
        "project = DEMO AND reporter = \"{}\" AND created >= -5m ORDER BY created DESC",
        demo::ADMIN_ACCOUNT_ID
    );
    // Default: ids only.
    let (status, page) = jql(&api, &[("jql", &query)]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["isLast"], true);
    assert!(page.get("nextPageToken").is_none());
    assert_eq!(
        page["issues"],
        json!([{"id": "10002"}, {"id": "10001"}, {"id": "10000"}])
    );

    let (_, page) = jql(
        &api,
        &[
            ("jql", &query),
            ("fields", "summary,created"),
            ("properties", "jira-action"),
        ],
    )
    .await;
    assert_eq!(keys(&page), ["DEMO-3", "DEMO-2", "DEMO-1"]);
    assert_eq!(page["issues"][0]["fields"]["summary"], "admin 3");
    assert!(page["issues"][0]["fields"]["created"].is_string());
    assert!(page["issues"][0]["fields"].get("labels").is_none());
    assert_eq!(
        page["issues"][0]["properties"]["jira-action"],
        json!({"n": 3})
    );

    let (_, mine) = jql(
        &api,
        &[
            (
                "jql",
                "reporter = currentUser() AND project = DEMO ORDER BY key ASC",
            ),
            ("fields", "*all"),
        ],
    )
    .await;
    assert_eq!(keys(&mine), ["DEMO-1", "DEMO-2", "DEMO-3"]);
    let (_, alice) = jql(
        &api,
        &[
            ("jql", &format!("reporter = {}", demo::ALICE_ACCOUNT_ID)),
            ("fields", "key"),
        ],
    )
    .await;
    assert_eq!(keys(&alice), ["DEMO-4"]);
    let (_, none) = jql(
        &api,
        &[("jql", "project = DEMO AND created >= \"2999-01-01\"")],
    )
    .await;
    assert_eq!(none["issues"], json!([]));
    let (_, ops) = jql(&api, &[("jql", "project = ops"), ("fields", "summary")]).await;
    assert_eq!(keys(&ops), ["OPS-1"]);
    let (_, by_key) = jql(&api, &[("jql", "key = DEMO-2"), ("fields", "summary")]).await;
    assert_eq!(keys(&by_key), ["DEMO-2"]);

    // POST takes the same parameters in a body.
    let (status, page) = send(
        admin(api.client.post(api.site("/rest/api/3/search/jql"))).json(&json!({
            "jql": query,
            "fields": ["summary"],
            "properties": ["jira-action"],
            "maxResults": 1,
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&page), ["DEMO-3"]);
    assert_eq!(page["isLast"], false);
}

#[tokio::test]
async fn paginates_with_next_page_token() {
    let api = Api::new().await;
    seed(&api).await;
    let mut token: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let mut query = vec![
            ("jql", "project = DEMO ORDER BY key ASC".to_owned()),
            ("maxResults", "3".into()),
            ("fields", "summary".into()),
        ];
        if let Some(t) = &token {
            query.push(("nextPageToken", t.clone()));
        }
        let (status, page) = send(api.get("/rest/api/3/search/jql").query(&query)).await;
        assert_eq!(status, StatusCode::OK);
        seen.extend(keys(&page).iter().map(|k| k.to_string()));
        match page.get("nextPageToken").and_then(Value::as_str) {
            Some(t) => {
                assert_eq!(page["isLast"], false);
                token = Some(t.to_owned());
            }
            None => {
                assert_eq!(page["isLast"], true);
                break;
            }
        }
    }
    assert_eq!(seen, ["DEMO-1", "DEMO-2", "DEMO-3", "DEMO-4"]);
    let (status, _) = jql(
        &api,
        &[("jql", "project = DEMO"), ("nextPageToken", "garbage!")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn rejects_what_it_does_not_understand() {
    let api = Api::new().await;
    seed(&api).await;
    for (query, message) in [
        (
            "",
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
        ),
        (
            "ORDER BY created DESC",
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
        ),
        (
            "project = NOPE",
            "The value 'NOPE' does not exist for the field 'project'.",
        ),
        (
            "foo = bar",
            "Field 'foo' does not exist or you do not have permission to view it.",
        ),
        (
            "reporter = 000000000000000000000000",
            "The value '000000000000000000000000' does not exist for the field 'reporter'.",
        ),
        (
            "created >= yesterday",
            "Date value 'yesterday' for field 'created' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.",
        ),
        (
            "project > DEMO",
            "The operator '>' is not supported by the 'project' field.",
        ),
    ] {
        let (status, body) = jql(&api, &[("jql", query)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["errorMessages"][0], message, "{query}");
    }
    for query in [
        "project = DEMO OR project = OPS",
        "project in (DEMO, OPS)",
        "project = DEMO AND",
        "project = DEMO ORDER created",
        "summary ~ \"fire\"",
        "(project = DEMO)",
    ] {
        let (status, body) = jql(&api, &[("jql", query)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    }
    let (status, _) = jql(
        &api,
        &[("jql", "project = DEMO"), ("properties", "a,b,c,d,e,f")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
