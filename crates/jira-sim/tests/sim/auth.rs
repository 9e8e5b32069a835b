//! Authentication under both URL forms, accessible-resources, 401/404.

use jira_sim::{Credential, SimConfig, demo};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{Api, admin, send};

#[tokio::test]
async fn basic_and_bearer_on_the_site_form() {
    let api = Api::new().await;
    let (status, me) = api.get_json("/rest/api/3/myself").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["accountId"], demo::ADMIN_ACCOUNT_ID);
    assert_eq!(me["emailAddress"], demo::ADMIN_EMAIL);
    assert_eq!(me["accountType"], "atlassian");
    assert_eq!(me["active"], true);

    // Emails match case-insensitively.
    let (status, _) = send(
        api.client
            .get(api.site("/rest/api/3/myself"))
            .basic_auth("ADMIN@Example.com", Some(demo::ADMIN_TOKEN)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, me) = send(
        api.client
            .get(api.site("/rest/api/3/myself"))
            .bearer_auth(demo::ADMIN_OAUTH_TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["accountId"], demo::ADMIN_ACCOUNT_ID);

    // A user sees their own email even when it is hidden from others.
    let (_, me) = send(
        api.client
            .get(api.site("/rest/api/3/myself"))
            .basic_auth(demo::BOB_EMAIL, Some(demo::BOB_TOKEN)),
    )
    .await;
    assert_eq!(me["emailAddress"], demo::BOB_EMAIL);
}

#[tokio::test]
async fn bad_or_missing_credentials_get_401() {
    let api = Api::new().await;
    let url = api.site("/rest/api/3/myself");
    for request in [
        api.client.get(&url),
        api.client
            .get(&url)
            .basic_auth(demo::ADMIN_EMAIL, Some("wrong")),
        api.client
            .get(&url)
            .basic_auth("nobody@example.com", Some(demo::ADMIN_TOKEN)),
        api.client.get(&url).bearer_auth("wrong"),
        api.client.get(&url).header("authorization", "Basic !!!"),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key("www-authenticate"));
        assert_eq!(
            response.text().await.unwrap(),
            "Client must be authenticated to access this resource."
        );
    }
    // Create is refused before any validation.
    let (status, _) = send(
        api.client
            .post(api.site("/rest/api/3/issue"))
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(api.sim().issues().is_empty());
}

#[tokio::test]
async fn credentials_of_inactive_users_are_refused() {
    let mut config = SimConfig::default();
    config.credentials.push(Credential::basic(
        demo::CAROL_EMAIL,
        "carol-token",
        demo::CAROL_ACCOUNT_ID,
    ));
    let api = Api::with(config).await;
    let (status, _) = send(
        api.client
            .get(api.site("/rest/api/3/myself"))
            .basic_auth(demo::CAROL_EMAIL, Some("carol-token")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Deactivating a user revokes their credentials at once.
    assert!(api.sim().set_user_active(demo::CAROL_ACCOUNT_ID, true));
    let (status, _) = send(
        api.client
            .get(api.site("/rest/api/3/myself"))
            .basic_auth(demo::CAROL_EMAIL, Some("carol-token")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn gateway_form_takes_bearer_only() {
    let api = Api::new().await;
    let (status, me) = send(
        api.client
            .get(api.gw("/rest/api/3/myself"))
            .bearer_auth(demo::ALICE_OAUTH_TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["accountId"], demo::ALICE_ACCOUNT_ID);
    assert!(me["self"].as_str().unwrap().contains("/ex/jira/"));

    let (status, body) = send(
        api.client
            .get(api.gw("/rest/api/3/myself"))
            .basic_auth(demo::ADMIN_EMAIL, Some(demo::ADMIN_TOKEN)),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"code": 401, "message": "Unauthorized"}));

    // Unknown cloud id: 404 whatever the credentials.
    let (status, _) = send(
        api.client
            .get(format!(
                "{}/ex/jira/00000000-0000-0000-0000-000000000000/rest/api/3/myself",
                api.handle.base_url()
            ))
            .bearer_auth(demo::ADMIN_OAUTH_TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn accessible_resources() {
    let config = SimConfig {
        site_url: Some("https://demo.atlassian.net/".into()),
        ..SimConfig::default()
    };
    let api = Api::with(config).await;
    let url = api.site("/oauth/token/accessible-resources");
    let (status, body) = send(api.client.get(&url).bearer_auth(demo::ADMIN_OAUTH_TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["id"], demo::CLOUD_ID);
    assert_eq!(body[0]["url"], "https://demo.atlassian.net");
    assert_eq!(body[0]["name"], "demo");
    assert!(
        body[0]["scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("write:jira-work"))
    );
    assert!(body[0]["avatarUrl"].is_string());

    let (status, _) = send(
        api.client
            .get(&url)
            .basic_auth(demo::ADMIN_EMAIL, Some(demo::ADMIN_TOKEN)),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(api.client.get(&url)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(
        api.client
            .get(api.gw("/oauth/token/accessible-resources"))
            .bearer_auth(demo::ADMIN_OAUTH_TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Without a configured site URL, the URL the request came in on.
    let api = Api::new().await;
    let (_, body) = send(
        api.client
            .get(api.site("/oauth/token/accessible-resources"))
            .bearer_auth(demo::ADMIN_OAUTH_TOKEN),
    )
    .await;
    assert_eq!(body[0]["url"], api.handle.base_url().as_str());
}

#[tokio::test]
async fn unknown_routes_get_jira_404() {
    let api = Api::new().await;
    let (status, body) = api.get_json("/rest/api/3/nothing/here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"errorMessages": ["null for uri: /rest/api/3/nothing/here"], "errors": {}})
    );
    let (status, _) = send(api.client.get(api.site("/favicon.ico"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(api.client.delete(api.site("/rest/api/3/myself"))).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(api.sim().calls(jira_sim::Endpoint::Other), 3);
}

#[tokio::test]
async fn a_credential_sees_only_its_projects() {
    let api = Api::new().await;
    api.sim().add_credential(
        Credential::bearer("ops-only", demo::ALICE_ACCOUNT_ID).in_projects(&["OPS"]),
    );
    let get = |path: &str| send(api.client.get(api.site(path)).bearer_auth("ops-only"));
    let (status, body) = get("/rest/api/3/project/DEMO").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = get("/rest/api/3/project/OPS").await;
    assert_eq!(status, StatusCode::OK);
    let (status, page) = get("/rest/api/3/project/search").await;
    assert_eq!(status, StatusCode::OK);
    let keys: Vec<&str> = page["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["key"].as_str())
        .collect();
    assert_eq!(keys, ["OPS"]);
    let (status, _) = get(&format!(
        "/rest/api/3/issue/createmeta/DEMO/issuetypes/{}",
        demo::TASK
    ))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The admin's issue in DEMO is not there for this credential.
    let (status, created) = send(
        admin(api.client.post(api.site("/rest/api/3/issue")))
            .json(&crate::common::issue(json!({}))),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap();
    let (status, _) = get(&format!("/rest/api/3/issue/{key}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
