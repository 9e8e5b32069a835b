//! `user/search` and `users/search` semantics.

use jira_sim::{HiddenEmailMatch, SimConfig, User, UserSearchDenied, demo};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{Api, send};

fn ids(users: &Value) -> Vec<&str> {
    users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["accountId"].as_str().unwrap())
        .collect()
}

async fn search(api: &Api, query: &str) -> Value {
    let (status, body) = send(
        api.get("/rest/api/3/user/search")
            .query(&[("query", query)]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn prefix_of_any_name_word_or_email_case_insensitive() {
    let api = Api::new().await;
    for q in ["alice", "ALI", "anders", "alice anders", "alice@exa"] {
        let found = search(&api, q).await;
        assert_eq!(ids(&found), vec![demo::ALICE_ACCOUNT_ID], "query {q}");
        assert_eq!(found[0]["emailAddress"], demo::ALICE_EMAIL);
        assert_eq!(found[0]["displayName"], "Alice Anders");
        assert_eq!(found[0]["active"], true);
        assert!(found[0]["self"].as_str().unwrap().contains("accountId="));
        assert!(found[0]["avatarUrls"]["48x48"].is_string());
    }
    // Not the middle of a word.
    assert!(ids(&search(&api, "nders").await).is_empty());
    // Apps and customers are users too.
    assert_eq!(
        ids(&search(&api, "jira").await),
        vec![demo::AUTOMATION_ACCOUNT_ID]
    );
    let found = search(&api, "automation").await;
    assert_eq!(found[0]["accountType"], "app");
    assert!(found[0].get("emailAddress").is_none());
    assert_eq!(search(&api, "dana").await[0]["accountType"], "customer");
}

#[tokio::test]
async fn hidden_emails_inactive_users_and_ambiguity() {
    let api = Api::new().await;
    let bob = search(&api, "bob@example.com").await;
    assert_eq!(ids(&bob), vec![demo::BOB_ACCOUNT_ID]);
    assert!(
        bob[0].get("emailAddress").is_none(),
        "hidden email is never returned"
    );
    // Inactive users are never returned, whatever the query.
    assert!(ids(&search(&api, "carol@example.com").await).is_empty());
    assert!(ids(&search(&api, "carol").await).is_empty());
    // An exact email that is a prefix of another: both, neither with email.
    let sams = search(&api, "sam@example.com").await;
    assert_eq!(
        ids(&sams),
        vec![demo::SAM_ACCOUNT_ID, demo::SAM_AU_ACCOUNT_ID]
    );
    assert!(
        sams.as_array()
            .unwrap()
            .iter()
            .all(|u| u.get("emailAddress").is_none())
    );
    // An email-like query does not match display names.
    api.sim().add_user(User::new(
        "712020:email-like-name",
        "bob@example.com",
        "x@other.org",
    ));
    assert_eq!(
        ids(&search(&api, "bob@example.com").await),
        vec![demo::BOB_ACCOUNT_ID]
    );
    assert_eq!(
        ids(&search(&api, "x@other").await),
        vec!["712020:email-like-name"]
    );

    // Exact-only matching of hidden emails (configurable).
    let api = Api::with(SimConfig {
        hidden_email_match: HiddenEmailMatch::ExactOnly,
        ..SimConfig::default()
    })
    .await;
    assert_eq!(
        ids(&search(&api, "sam@example.com").await),
        vec![demo::SAM_ACCOUNT_ID]
    );
    assert!(ids(&search(&api, "bob@exa").await).is_empty());
    assert_eq!(
        ids(&search(&api, "bob").await),
        vec![demo::BOB_ACCOUNT_ID],
        "by name"
    );
}

#[tokio::test]
async fn user_search_pagination_and_parameters() {
    let api = Api::with(SimConfig {
        site: jira_sim::Site::demo(500),
        ..SimConfig::default()
    })
    .await;
    let all = search(&api, "a").await;
    assert_eq!(all.as_array().unwrap().len(), 50, "default maxResults");
    let (_, first) = send(api.get("/rest/api/3/user/search?query=a&maxResults=7")).await;
    let (_, second) = send(api.get("/rest/api/3/user/search?query=a&startAt=7&maxResults=7")).await;
    assert_eq!(ids(&first), ids(&all)[..7].to_vec());
    assert_eq!(ids(&second), ids(&all)[7..14].to_vec());
    assert!(all.as_array().unwrap().iter().all(|u| u["active"] == true));

    let (_, by_id) = send(
        api.get("/rest/api/3/user/search")
            .query(&[("accountId", demo::BOB_ACCOUNT_ID)]),
    )
    .await;
    assert_eq!(ids(&by_id), vec![demo::BOB_ACCOUNT_ID]);
    for bad in [
        "/rest/api/3/user/search",
        "/rest/api/3/user/search?query=",
        "/rest/api/3/user/search?query=a&accountId=b",
        "/rest/api/3/user/search?query=a&startAt=x",
    ] {
        let (status, body) = send(api.get(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(body["errorMessages"][0].is_string());
    }
}

#[tokio::test]
async fn user_search_without_browse_users_permission() {
    let api = Api::new().await;
    // Bob has BROWSE_PROJECTS only: Atlassian documents empty results.
    let (status, body) = send(
        api.client
            .get(api.site("/rest/api/3/user/search?query=alice"))
            .basic_auth(demo::BOB_EMAIL, Some(demo::BOB_TOKEN)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::json!([]));

    let api = Api::with(SimConfig {
        user_search_denied: UserSearchDenied::Forbidden,
        ..SimConfig::default()
    })
    .await;
    let (status, body) = send(
        api.client
            .get(api.site("/rest/api/3/user/search?query=alice"))
            .basic_auth(demo::BOB_EMAIL, Some(demo::BOB_TOKEN)),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["errorMessages"][0].is_string());
}

#[tokio::test]
async fn users_search_pages_over_everyone() {
    let api = Api::new().await;
    let mut seen = Vec::new();
    let mut start = 0;
    loop {
        let (status, page) = send(api.get(&format!(
            "/rest/api/3/users/search?startAt={start}&maxResults=30"
        )))
        .await;
        assert_eq!(status, StatusCode::OK);
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        start += page.len();
        seen.extend(page);
    }
    assert_eq!(seen.len(), demo::FIXED_USERS + 100);
    assert_eq!(seen[0]["accountId"], demo::ADMIN_ACCOUNT_ID);
    assert!(
        seen.iter()
            .any(|u| u["accountId"] == demo::CAROL_ACCOUNT_ID && u["active"] == false)
    );
    let (_, default_page) = send(api.get("/rest/api/3/users/search")).await;
    assert_eq!(default_page.as_array().unwrap().len(), 50);

    let (status, _) = send(
        api.client
            .get(api.site("/rest/api/3/users/search"))
            .basic_auth(demo::BOB_EMAIL, Some(demo::BOB_TOKEN)),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
