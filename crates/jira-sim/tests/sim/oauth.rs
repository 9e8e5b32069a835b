//! The simulated OAuth 2.0 (3LO) authorization server.

use std::time::Duration;

use jira_sim::{OAuthConfig, SimConfig, demo};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Api, client};

const CALLBACK: &str = "http://127.0.0.1:9/callback";

fn config(ttl: Duration, reuse: Duration) -> SimConfig {
    SimConfig {
        oauth: OAuthConfig {
            access_token_ttl: ttl,
            refresh_reuse_interval: reuse,
            ..OAuthConfig::default()
        },
        ..SimConfig::default()
    }
}

/// Follows the consent redirect by hand and returns the code.
async fn authorize(api: &Api, state: &str) -> String {
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects
        .get(api.site("/authorize"))
        .query(&[
            ("audience", "api.atlassian.com"),
            ("client_id", demo::OAUTH_CLIENT_ID),
            ("scope", "write:jira-work read:jira-work offline_access"),
            ("redirect_uri", CALLBACK),
            ("state", state),
            ("response_type", "code"),
            ("prompt", "consent"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{CALLBACK}?code=")),
        "{location}"
    );
    assert!(location.ends_with(&format!("&state={state}")), "{location}");
    location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned()
}

async fn token(api: &Api, body: Value) -> (StatusCode, Value) {
    let response = client()
        .post(api.site("/oauth/token"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

fn exchange(code: &str) -> Value {
    json!({
        "grant_type": "authorization_code",
        "client_id": demo::OAUTH_CLIENT_ID,
        "client_secret": demo::OAUTH_CLIENT_SECRET,
        "code": code,
        "redirect_uri": CALLBACK,
    })
}

fn refresh(token: &str) -> Value {
    json!({
        "grant_type": "refresh_token",
        "client_id": demo::OAUTH_CLIENT_ID,
        "client_secret": demo::OAUTH_CLIENT_SECRET,
        "refresh_token": token,
    })
}

async fn myself_status(api: &Api, access_token: &str) -> StatusCode {
    client()
        .get(api.gw("/rest/api/3/myself"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn the_code_flow_mints_tokens_that_expire() {
    let api = Api::with(config(Duration::from_secs(1), Duration::from_secs(600))).await;
    let code = authorize(&api, "xyz").await;
    let (status, tokens) = token(&api, exchange(&code)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["expires_in"], 1);
    assert_eq!(tokens["token_type"], "Bearer");
    let access = tokens["access_token"].as_str().unwrap();
    assert!(
        tokens["refresh_token"].is_string(),
        "offline_access gives a refresh token"
    );
    assert_eq!(myself_status(&api, access).await, StatusCode::OK);
    // A code is single-use.
    let (status, error) = token(&api, exchange(&code)).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("invalid_grant"))
    );
    api.sim().advance_clock(Duration::from_millis(1_100));
    assert_eq!(myself_status(&api, access).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_tokens_rotate_with_a_reuse_interval() {
    let api = Api::with(config(Duration::from_secs(60), Duration::from_millis(300))).await;
    let code = authorize(&api, "s").await;
    let (_, first) = token(&api, exchange(&code)).await;
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();

    let (status, second) = token(&api, refresh(&r1)).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2, "rotated");
    assert_eq!(
        myself_status(&api, second["access_token"].as_str().unwrap()).await,
        StatusCode::OK
    );
    // Within the interval the old one still works (a retry after a lost answer).
    let (status, _) = token(&api, refresh(&r1)).await;
    assert_eq!(status, StatusCode::OK);
    api.sim().advance_clock(Duration::from_millis(400));
    // After it, reuse is refused and revokes the family, r2 included.
    let (status, error) = token(&api, refresh(&r1)).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("invalid_grant"))
    );
    let (status, _) = token(&api, refresh(&r2)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(api.sim().oauth_refreshes(), 2);
}

#[tokio::test]
async fn bad_clients_and_grants_are_refused() {
    let api = Api::new().await;
    let mut body = exchange("nope");
    body["client_secret"] = json!("wrong");
    let (status, error) = token(&api, body).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("access_denied"))
    );
    let (status, error) = token(&api, refresh("never-issued")).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("invalid_grant"))
    );
    let code = authorize(&api, "s").await;
    let mut body = exchange(&code);
    body["redirect_uri"] = json!("http://127.0.0.1:9/elsewhere");
    let (status, _) = token(&api, body).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the redirect_uri must match");
}

#[tokio::test]
async fn expiring_tokens_on_demand() {
    let api = Api::new().await;
    let code = authorize(&api, "s").await;
    let (_, tokens) = token(&api, exchange(&code)).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(myself_status(&api, access).await, StatusCode::OK);
    api.sim().expire_access_tokens();
    assert_eq!(myself_status(&api, access).await, StatusCode::UNAUTHORIZED);
}
