//! The sign-in flow as an MCP client and a browser go through it, for the
//! suites that sign people in (`signin.rs`, `signin_oidc.rs`): the server
//! with `[mcp.oauth]` on, PKCE, the authorize request, the consent page,
//! the token endpoint, a create over `/mcp`, and what the store and
//! `/metrics` say afterwards.
#![allow(dead_code, reason = "each suite uses its own part")]

use std::collections::HashMap;

use base64::Engine;
use jira_action::store::Store;
use jira_sim::demo;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::common::{TestApp, spawn_app_with};

pub const API_KEY: &str = "signin-test-key";
pub const LOOPBACK_REDIRECT: &str = "http://127.0.0.1/callback";
/// A native app's redirect URI under [`LOOPBACK_REDIRECT`], on the port it
/// happens to have.
pub const NATIVE_REDIRECT: &str = "http://127.0.0.1:49152/callback";
pub const CONFIGURED_CLIENT: &str = "configured-client";
pub const CONFIGURED_REDIRECT: &str = "https://app.example.com/oauth/callback";

/// The server with sign-in on against the simulator (as Atlassian too),
/// an API key beside it, and its store in a file the test can read.
pub async fn signin_app(dir: &tempfile::TempDir) -> TestApp {
    signin_app_with(dir, |_| {}).await
}

/// [`signin_app`] with more `[mcp.oauth]` settings.
pub async fn signin_app_with(
    dir: &tempfile::TempDir,
    tune: impl FnOnce(&mut jira_action::config::McpOAuthConfig),
) -> TestApp {
    let store = dir.path().join("store.db").display().to_string();
    spawn_app_with(move |config, sim| {
        let oauth = &mut config.mcp.oauth;
        oauth.enabled = true;
        oauth.client_id = Some(demo::OAUTH_CLIENT_ID.into());
        oauth.client_secret = Some(SecretString::from(demo::OAUTH_CLIENT_SECRET));
        oauth.auth_url = sim.base_url().parse().expect("url");
        oauth.api_url = sim.base_url().parse().expect("url");
        oauth.clients = vec![jira_action::config::ConfiguredClient {
            client_id: CONFIGURED_CLIENT.into(),
            name: Some("Configured Assistant".into()),
            redirect_uris: vec![CONFIGURED_REDIRECT.into()],
        }];
        tune(oauth);
        config.mcp.api_keys = vec![SecretString::from(API_KEY)];
        config.store.url = store;
    })
    .await
}

/// A browser-like client that does not follow redirects: every step of the
/// flow is looked at.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn new_pkce() -> Pkce {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

pub fn location(response: &reqwest::Response) -> url::Url {
    let value = response
        .headers()
        .get("location")
        .expect("a redirect")
        .to_str()
        .expect("ascii");
    url::Url::parse(value).expect("absolute location")
}

pub fn query_of(url: &url::Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// The value of a hidden form field in a page.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// The authorize URL of a client's request.
pub fn authorize_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&app.url("/oauth/authorize")).expect("url");
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

pub fn resource(app: &TestApp) -> String {
    app.url("/mcp")
}

/// What a client sends to `authorize`: PKCE S256, state and resource.
pub fn request_params<'a>(
    app: &TestApp,
    client_id: &'a str,
    redirect_uri: &'a str,
    pkce: &'a Pkce,
) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", client_id.into()),
        ("redirect_uri", redirect_uri.into()),
        ("code_challenge", pkce.challenge.clone()),
        ("code_challenge_method", "S256".into()),
        ("state", "client-state-42".into()),
        ("resource", resource(app)),
    ]
}

/// The consent page, after authorize and the simulator's sign-in as
/// `account`: its HTML, headers and the consent cookie.
pub struct ConsentPage {
    pub html: String,
    pub headers: reqwest::header::HeaderMap,
    pub cookie: String,
}

/// A browser's `GET /oauth/authorize` with a client's request.
pub async fn authorize(app: &TestApp, params: &[(&'static str, String)]) -> reqwest::Response {
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser()
        .get(authorize_url(app, &pairs))
        .send()
        .await
        .expect("authorize answers")
}

pub async fn reach_consent(
    app: &TestApp,
    params: &[(&'static str, String)],
    account: &str,
) -> ConsentPage {
    let http = browser();
    let to_upstream = authorize(app, params).await;
    assert!(
        to_upstream.status().is_redirection(),
        "{}",
        to_upstream.status()
    );
    let upstream = location(&to_upstream);
    assert!(
        upstream.as_str().starts_with(&app.sim.base_url()),
        "{upstream}"
    );
    let upstream_query = query_of(&upstream);
    assert_eq!(upstream_query["scope"], "read:me");
    // The simulator's sign-in page lists the demo people.
    let page = http.get(upstream.clone()).send().await.expect("sim page");
    let page = page.text().await.expect("html");
    assert!(page.contains("Alice Anders"), "{page}");
    let mut form: Vec<(String, String)> = upstream_query.into_iter().collect();
    form.push(("account_id".into(), account.into()));
    form.push(("decision".into(), "accept".into()));
    let back = http
        .post(upstream.as_str().split('?').next().expect("path"))
        .form(&form)
        .send()
        .await
        .expect("sim signs in");
    let callback = location(&back);
    assert!(
        callback.path().ends_with("/oauth/atlassian/callback"),
        "{callback}"
    );
    consent_page(http.get(callback).send().await.expect("callback answers")).await
}

/// The consent page a callback answered.
pub async fn consent_page(consent: reqwest::Response) -> ConsentPage {
    assert_eq!(consent.status(), 200);
    let headers = consent.headers().clone();
    let cookie = headers
        .get("set-cookie")
        .expect("the consent cookie")
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    ConsentPage {
        html: consent.text().await.expect("html"),
        headers,
        cookie,
    }
}

/// Allow (or deny) on the consent page.
pub async fn decide(app: &TestApp, page: &ConsentPage, decision: &str) -> reqwest::Response {
    browser()
        .post(app.url("/oauth/consent"))
        .header("cookie", &page.cookie)
        .form(&[
            (
                "request",
                hidden(&page.html, "request").expect("request field"),
            ),
            ("csrf", hidden(&page.html, "csrf").expect("csrf field")),
            ("decision", decision.to_owned()),
        ])
        .send()
        .await
        .expect("consent answers")
}

/// The whole browser part, up to the client's code.
pub async fn authorization_code(
    app: &TestApp,
    client_id: &str,
    redirect_uri: &str,
    pkce: &Pkce,
    account: &str,
) -> String {
    let params = request_params(app, client_id, redirect_uri, pkce);
    let page = reach_consent(app, &params, account).await;
    let allowed = decide(app, &page, "allow").await;
    assert_eq!(allowed.status(), 303);
    let back = location(&allowed);
    assert!(back.as_str().starts_with(redirect_uri), "{back}");
    let query = query_of(&back);
    assert_eq!(query["state"], "client-state-42");
    assert_eq!(query["iss"], app.base);
    query["code"].clone()
}

pub async fn token_request(app: &TestApp, form: &[(&str, &str)]) -> (u16, Value) {
    let response = browser()
        .post(app.url("/oauth/token"))
        .form(form)
        .send()
        .await
        .expect("token endpoint answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn redeem(
    app: &TestApp,
    client_id: &str,
    redirect_uri: &str,
    code: &str,
    verifier: &str,
) -> (u16, Value) {
    let resource = resource(app);
    token_request(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("code_verifier", verifier),
            ("resource", &resource),
        ],
    )
    .await
}

/// Alice's code for the configured client.
pub async fn configured_code(app: &TestApp, pkce: &Pkce) -> String {
    authorization_code(
        app,
        CONFIGURED_CLIENT,
        CONFIGURED_REDIRECT,
        pkce,
        demo::ALICE_ACCOUNT_ID,
    )
    .await
}

pub async fn redeem_configured(app: &TestApp, code: &str, verifier: &str) -> (u16, Value) {
    redeem(app, CONFIGURED_CLIENT, CONFIGURED_REDIRECT, code, verifier).await
}

pub async fn refresh(app: &TestApp, client_id: &str, refresh_token: &str) -> (u16, Value) {
    token_request(
        app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ],
    )
    .await
}

pub async fn register(app: &TestApp, redirect_uris: Value) -> (u16, Value) {
    let response = browser()
        .post(app.url("/oauth/register"))
        .json(&json!({"client_name": "Test Assistant", "redirect_uris": redirect_uris}))
        .send()
        .await
        .expect("registration answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A registered client and a signed-in person's tokens.
pub async fn signed_in(app: &TestApp, account: &str) -> (String, Value) {
    let (status, client) = register(app, json!([LOOPBACK_REDIRECT])).await;
    assert_eq!(status, 201, "{client}");
    let client_id = client["client_id"].as_str().expect("client_id").to_owned();
    let pkce = new_pkce();
    let redirect = NATIVE_REDIRECT;
    let code = authorization_code(app, &client_id, redirect, &pkce, account).await;
    let (status, tokens) = redeem(app, &client_id, redirect, &code, &pkce.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    (client_id, tokens)
}

/// The status and `WWW-Authenticate` of an MCP `initialize` with this
/// `Authorization`.
pub async fn mcp_status(app: &TestApp, authorization: Option<&str>) -> (u16, String) {
    let mut request = browser()
        .post(app.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "probe", "version": "1"}}
        }));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.expect("mcp answers");
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    (response.status().as_u16(), challenge)
}

/// `create_issue` over MCP with a bearer token (and, to show it is
/// ignored, a header naming someone else).
pub async fn create_over_mcp(app: &TestApp, token: &str, summary: &str) -> Value {
    let mut headers = HashMap::new();
    headers.insert(
        http::HeaderName::from_static("glean-user-email"),
        http::HeaderValue::from_static("bob@example.com"),
    );
    let config = StreamableHttpClientTransportConfig::with_uri(app.url("/mcp"))
        .auth_header(token)
        .custom_headers(headers);
    let client =
        ().serve(StreamableHttpClientTransport::from_config(config))
            .await
            .expect("client connects");
    let arguments = json!({"pid": "DEMO", "issuetype": "Task", "summary": summary});
    let result = client
        .call_tool(
            CallToolRequestParams::new("create_issue")
                .with_arguments(arguments.as_object().expect("object").clone()),
        )
        .await
        .expect("the tool answers");
    client.cancel().await.expect("cancel");
    assert_ne!(result.is_error, Some(true), "{result:?}");
    result.structured_content.expect("structured content")
}

/// A metadata document of the server, as JSON.
pub async fn get_json(url: impl reqwest::IntoUrl) -> Value {
    let response = browser().get(url).send().await.expect("answers");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

/// The `Authorization` of a token answer's access token.
pub fn bearer(tokens: &Value) -> String {
    format!(
        "Bearer {}",
        tokens["access_token"].as_str().expect("access token")
    )
}

pub async fn store_of(dir: &tempfile::TempDir) -> Store {
    Store::open(&dir.path().join("store.db").display().to_string(), 1)
        .await
        .expect("store")
}

/// Nothing was granted in the store of `dir`.
pub async fn assert_no_grant(dir: &tempfile::TempDir) {
    let grants = store_of(dir).await.signin_grants().await.expect("grants");
    assert!(grants.is_empty(), "{grants:?}");
}

/// The server's `/metrics`, as text.
pub async fn metrics(app: &TestApp) -> String {
    app.http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

/// How many sign-ins `/metrics` counts as refused for `reason`.
pub async fn refusals(app: &TestApp, reason: &str) -> String {
    let marker = format!("jira_action_signin_refusals_total{{reason=\"{reason}\"}} ");
    let metrics = metrics(app).await;
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&marker))
        .unwrap_or("0")
        .to_owned()
}
