//! Each person signs in (OAuth 2.1 for `/mcp`, the login at the simulated
//! Atlassian), black-box: discovery from a bare 401, registration,
//! authorize with PKCE, the simulator's sign-in page, the consent page,
//! the token endpoint, a create whose reporter is the signed-in person,
//! refresh with rotation, revocation, an access token's expiry, and every
//! refusal. Cloud only: the Atlassian upstream names people by account id
//! (`signin_oidc.rs` signs in through an OpenID Connect provider, on Data
//! Center too).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;
#[path = "common/signin.rs"]
mod signin_flow;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;

use common::TestApp;
use jira_action::signin::rows::{CodeRow, GrantRow, Refused, TokenKind};
use jira_action::store::{AuditFilter, Store};
use jira_sim::demo;
use serde_json::{Value, json};
use signin_flow::*;

#[tokio::test]
async fn discovery_sign_in_create_refresh_and_revoke() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = signin_app(&dir).await;

    // Discovery from a bare 401.
    let (status, challenge) = mcp_status(&app, None).await;
    assert_eq!(status, 401);
    let metadata_url = app.url("/.well-known/oauth-protected-resource/mcp");
    assert_eq!(
        challenge,
        format!("Bearer resource_metadata=\"{metadata_url}\"")
    );
    let prm: Value = get_json(&metadata_url).await;
    assert_eq!(prm["resource"], resource(&app));
    let root_prm: Value = get_json(app.url("/.well-known/oauth-protected-resource")).await;
    assert_eq!(root_prm, prm);
    let issuer = prm["authorization_servers"][0].as_str().expect("issuer");
    assert_eq!(issuer, app.base);
    let server: Value = get_json(format!("{issuer}/.well-known/oauth-authorization-server")).await;
    assert_eq!(server["issuer"], issuer);
    assert_eq!(server["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        server["authorization_endpoint"],
        app.url("/oauth/authorize")
    );
    assert_eq!(server["registration_endpoint"], app.url("/oauth/register"));

    // Registration, sign-in as Alice, consent, token.
    let (client_id, tokens) = signed_in(&app, demo::ALICE_ACCOUNT_ID).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let access = tokens["access_token"].as_str().expect("access token");
    let refresh_token = tokens["refresh_token"].as_str().expect("refresh token");

    // The create is Alice's, whatever header the client adds.
    let created = create_over_mcp(&app, access, "Filed by a signed-in person").await;
    let key = created["key"].as_str().expect("key");
    assert_eq!(
        app.reporter_of(key).as_deref(),
        Some(demo::ALICE_ACCOUNT_ID)
    );

    // The audit record names the client and the account.
    let store = store_of(&dir).await;
    let records = store
        .audit(&AuditFilter {
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .expect("audit");
    let record = records
        .iter()
        .find(|r| r.issue_key.as_deref() == Some(key))
        .expect("record");
    assert_eq!(record.client.as_deref(), Some(client_id.as_str()));
    assert_eq!(record.reporter.as_deref(), Some(demo::ALICE_ACCOUNT_ID));
    assert_eq!(record.caller.as_deref(), Some(demo::ALICE_EMAIL));
    assert_eq!(record.signature, "oauth");
    let grants = store.signin_grants().await.expect("grants");
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].email, demo::ALICE_EMAIL);

    // Refresh rotates both tokens; the new access token works.
    let (status, rotated) = refresh(&app, &client_id, refresh_token).await;
    assert_eq!(status, 200, "{rotated}");
    let new_access = rotated["access_token"].as_str().expect("access");
    assert_ne!(new_access, access);
    assert_ne!(rotated["refresh_token"], tokens["refresh_token"]);
    let created = create_over_mcp(&app, new_access, "After a refresh").await;
    assert!(created["key"].is_string());

    // Revoke: the grant ends, its tokens with it.
    let revoked = browser()
        .post(app.url("/oauth/revoke"))
        .form(&[("token", new_access), ("client_id", client_id.as_str())])
        .send()
        .await
        .expect("revoke answers");
    assert_eq!(revoked.status(), 200);
    let (status, challenge) = mcp_status(&app, Some(&format!("Bearer {new_access}"))).await;
    assert_eq!(status, 401);
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\", resource_metadata="),
        "{challenge}"
    );
    let (status, body) = refresh(
        &app,
        &client_id,
        rotated["refresh_token"].as_str().expect("rt"),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // The API key keeps working beside sign-in.
    let (status, _) = mcp_status(&app, Some(&format!("Bearer {API_KEY}"))).await;
    assert_eq!(status, 200);
    let (status, challenge) = mcp_status(&app, Some("Bearer not-a-key-nor-a-token")).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}

#[tokio::test]
async fn a_configured_client_signs_in_and_the_page_is_safe_to_show() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = signin_app(&dir).await;
    let pkce = new_pkce();
    let params = request_params(&app, CONFIGURED_CLIENT, CONFIGURED_REDIRECT, &pkce);
    let page = reach_consent(&app, &params, demo::ADMIN_ACCOUNT_ID).await;
    assert!(page.html.contains("Configured Assistant"), "{}", page.html);
    assert!(page.html.contains(CONFIGURED_REDIRECT));
    assert!(
        page.html.contains(&app.sim.base_url()),
        "the Jira site is named"
    );
    assert!(page.html.contains("in your name"));
    assert!(!page.html.contains("<script"));
    assert_eq!(page.headers["x-frame-options"], "DENY");
    let csp = page.headers["content-security-policy"]
        .to_str()
        .expect("ascii");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(page.cookie.starts_with("jira_action_consent="));
    let allowed = decide(&app, &page, "allow").await;
    let code = query_of(&location(&allowed))["code"].clone();
    let (status, tokens) = redeem_configured(&app, &code, &pkce.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(mcp_status(&app, Some(&bearer(&tokens))).await.0, 200);
}

#[tokio::test]
async fn authorize_refuses_requests_without_s256_pkce_or_our_resource() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = signin_app(&dir).await;
    let pkce = new_pkce();
    let base = request_params(&app, CONFIGURED_CLIENT, CONFIGURED_REDIRECT, &pkce);
    let without = |name: &str| -> Vec<(&'static str, String)> {
        base.iter().filter(|(k, _)| *k != name).cloned().collect()
    };
    let with = |name: &'static str, value: &str| -> Vec<(&'static str, String)> {
        let mut params = without(name);
        params.push((name, value.to_owned()));
        params
    };
    let cases = [
        (without("code_challenge"), "invalid_request"),
        (with("code_challenge_method", "plain"), "invalid_request"),
        (without("code_challenge_method"), "invalid_request"),
        (without("resource"), "invalid_target"),
        (
            with("resource", "https://other.example.com/mcp"),
            "invalid_target",
        ),
    ];
    for (params, error) in cases {
        let response = authorize(&app, &params).await;
        let back = location(&response);
        assert!(back.as_str().starts_with(CONFIGURED_REDIRECT), "{back}");
        let query = query_of(&back);
        assert_eq!(query["error"], error, "{params:?}");
        assert_eq!(query["state"], "client-state-42");
    }
}

#[tokio::test]
async fn a_redirect_uri_that_does_not_match_gets_a_page_not_a_redirect() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = signin_app(&dir).await;
    for wrong in [
        "https://evil.example.com/oauth/callback",
        "https://app.example.com/oauth/callback/extra",
    ] {
        let html = refused_page(&app, CONFIGURED_CLIENT, wrong).await;
        assert!(
            html.contains("not one of the addresses it registered"),
            "{html}"
        );
    }
    // A registered loopback URI matches on any port, but not another path.
    let (_, client) = register(&app, json!([LOOPBACK_REDIRECT])).await;
    let client_id = client["client_id"].as_str().expect("id");
    refused_page(&app, client_id, "http://127.0.0.1:5000/elsewhere").await;
}

#[tokio::test]
async fn a_wrong_verifier_or_a_reused_code_gets_no_token_and_reuse_revokes_the_grant() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = signin_app(&dir).await;
    let pkce = new_pkce();
    let code = configured_code(&app, &pkce).await;
    let wrong = format!("{}x", pkce.verifier);
    let (status, body) = redeem_configured(&app, &code, &wrong).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // A code is good once, even after a failed attempt.
    let (status, _) = redeem_configured(&app, &code, &pkce.verifier).await;
    assert_eq!(status, 400);

    let pkce = new_pkce();
    let code = configured_code(&app, &pkce).await;
    let (status, tokens) = redeem_configured(&app, &code, &pkce.verifier).await;
    assert_eq!(status, 200);
    let access = bearer(&tokens);
    assert_eq!(mcp_status(&app, Some(&access)).await.0, 200);
    let (status, body) = redeem_configured(&app, &code, &pkce.verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        mcp_status(&app, Some(&access)).await.0,
        401,
        "the first redemption's tokens are revoked"
    );
    assert!(app.sim.sim.issues().is_empty());
}

#[tokio::test]
async fn a_refresh_token_used_twice_revokes_the_grant() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = signin_app(&dir).await;
    let (client_id, tokens) = signed_in(&app, demo::ALICE_ACCOUNT_ID).await;
    let first = tokens["refresh_token"].as_str().expect("rt");
    let (status, rotated) = refresh(&app, &client_id, first).await;
    assert_eq!(status, 200);
    let (status, body) = refresh(&app, &client_id, first).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let access = bearer(&rotated);
    assert_eq!(mcp_status(&app, Some(&access)).await.0, 401);
    let (status, _) = refresh(
        &app,
        &client_id,
        rotated["refresh_token"].as_str().expect("rt"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(app.sim.sim.issues().is_empty());
}

#[tokio::test]
async fn consent_needs_its_csrf_token_and_a_denial_grants_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = signin_app(&dir).await;
    let pkce = new_pkce();
    let params = request_params(&app, CONFIGURED_CLIENT, CONFIGURED_REDIRECT, &pkce);
    let page = reach_consent(&app, &params, demo::ALICE_ACCOUNT_ID).await;
    let request = hidden(&page.html, "request").expect("request");
    let csrf = hidden(&page.html, "csrf").expect("csrf");
    let attempts = [
        // No CSRF token in the form.
        (
            Some(page.cookie.clone()),
            vec![("request", request.clone()), ("decision", "allow".into())],
        ),
        // The form's token, but not from this browser (no cookie).
        (
            None,
            vec![
                ("request", request.clone()),
                ("csrf", csrf.clone()),
                ("decision", "allow".into()),
            ],
        ),
        // A token of another page.
        (
            Some("jira_action_consent=forged".into()),
            vec![
                ("request", request.clone()),
                ("csrf", "forged".into()),
                ("decision", "allow".into()),
            ],
        ),
    ];
    for (cookie, form) in attempts {
        let mut post = browser().post(app.url("/oauth/consent")).form(&form);
        if let Some(cookie) = cookie {
            post = post.header("cookie", cookie);
        }
        let response = post.send().await.expect("answers");
        assert_eq!(response.status(), 403);
        assert!(response.headers().get("location").is_none());
        assert!(
            response
                .text()
                .await
                .expect("html")
                .contains("Nothing was granted")
        );
    }
    // The real page still works once: here, Deny.
    let denied = decide(&app, &page, "deny").await;
    assert_eq!(denied.status(), 200);
    let html = denied.text().await.expect("html");
    assert!(html.contains("Access denied"), "{html}");
    assert!(html.contains("error=access_denied"), "{html}");
    // And is spent.
    assert_eq!(decide(&app, &page, "allow").await.status(), 400);
    let store = store_of(&dir).await;
    assert!(store.signin_grants().await.expect("grants").is_empty());
}

#[tokio::test]
async fn tokens_of_another_deployment_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = signin_app(&dir).await;
    let (_, tokens) = signed_in(&app, demo::ALICE_ACCOUNT_ID).await;
    let access = bearer(&tokens);
    // Another deployment with its own store has never seen it.
    let other_dir = tempfile::tempdir().expect("temp dir");
    let other = signin_app(&other_dir).await;
    let (status, challenge) = mcp_status(&other, Some(&access)).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("error=\"invalid_token\""));
    // Another deployment sharing the store: the token names the first
    // one's /mcp as its resource.
    let sharing = signin_app(&dir).await;
    assert_eq!(mcp_status(&sharing, Some(&access)).await.0, 401);
    assert_eq!(mcp_status(&app, Some(&access)).await.0, 200);
    // A made-up token, and a key that is not one.
    assert_eq!(mcp_status(&app, Some("Bearer jat_made_up")).await.0, 401);
}

#[tokio::test]
async fn registration_refuses_unsafe_redirect_uris() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = signin_app(&dir).await;
    for uris in [
        json!([]),
        json!(["http://app.example.com/callback"]),
        json!(["javascript:alert(1)"]),
        json!(["https://app.example.com/cb#fragment"]),
    ] {
        let (status, body) = register(&app, uris.clone()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_redirect_uri")),
            "{uris}"
        );
    }
}

/// A client's metadata documents, served over plain http on 127.0.0.1 (the
/// server fetches them with `allow_private_client_metadata` on), and how
/// many times the good one was fetched.
struct MetadataServer {
    base: String,
    fetches: Arc<AtomicUsize>,
}

impl MetadataServer {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A metadata document naming `client_id`, with the loopback redirect URI.
fn metadata_document(client_id: &str, name: &str) -> Value {
    json!({
        "client_id": client_id,
        "client_name": name,
        "redirect_uris": [LOOPBACK_REDIRECT],
        "token_endpoint_auth_method": "none",
    })
}

async fn metadata_server() -> MetadataServer {
    use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let fetches = Arc::new(AtomicUsize::new(0));
    let good = metadata_document(&format!("{base}/client.json"), "Metadata Assistant");
    let counted = Arc::clone(&fetches);
    let mismatched = metadata_document("https://assistant.example.com/client.json", "Impostor");
    let mut big = metadata_document(&format!("{base}/big.json"), "Big");
    big["client_name"] = json!("x".repeat(6_000));
    let router = axum::Router::new()
        .route(
            "/client.json",
            axum::routing::get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                std::future::ready(([(CACHE_CONTROL, "max-age=300")], axum::Json(good)))
            }),
        )
        .route(
            "/redirect.json",
            axum::routing::get(|| async { (StatusCode::FOUND, [(LOCATION, "/client.json")]) }),
        )
        .route(
            "/mismatch.json",
            axum::routing::get(move || std::future::ready(axum::Json(mismatched))),
        )
        .route(
            "/big.json",
            axum::routing::get(move || std::future::ready(axum::Json(big))),
        )
        // Too big without saying so up front: chunks, no Content-Length.
        .route(
            "/big-stream.json",
            axum::routing::get(|| async {
                let chunks = (0..8).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1_000]));
                (
                    [(CONTENT_TYPE, "application/json")],
                    axum::body::Body::from_stream(futures_util::stream::iter(chunks)),
                )
            }),
        )
        .route(
            "/page.html",
            axum::routing::get(|| async { axum::response::Html("<p>not metadata</p>") }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await });
    MetadataServer { base, fetches }
}

/// An authorize request that must end on a page (never a redirect, never
/// at Atlassian): its HTML.
async fn refused_page(app: &TestApp, client_id: &str, redirect_uri: &str) -> String {
    let pkce = new_pkce();
    let params = request_params(app, client_id, redirect_uri, &pkce);
    let response = authorize(app, &params).await;
    assert_eq!(response.status(), 400, "{client_id}");
    assert!(response.headers().get("location").is_none(), "{client_id}");
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    response.text().await.expect("html")
}

#[tokio::test]
async fn a_client_known_by_its_metadata_document_signs_in_and_files_an_issue() {
    let metadata = metadata_server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = signin_app_with(&dir, |oauth| oauth.allow_private_client_metadata = true).await;
    let server: Value = get_json(app.url("/.well-known/oauth-authorization-server")).await;
    assert_eq!(server["client_id_metadata_document_supported"], true);

    let client_id = metadata.url("/client.json");
    let redirect = NATIVE_REDIRECT;
    let pkce = new_pkce();
    let params = request_params(&app, &client_id, redirect, &pkce);
    let page = reach_consent(&app, &params, demo::ALICE_ACCOUNT_ID).await;
    assert!(page.html.contains("Metadata Assistant"), "{}", page.html);
    assert!(page.html.contains(&client_id), "the page names the URL");
    let allowed = decide(&app, &page, "allow").await;
    let back = location(&allowed);
    assert!(back.as_str().starts_with(redirect), "{back}");
    let code = query_of(&back)["code"].clone();
    let (status, tokens) = redeem(&app, &client_id, redirect, &code, &pkce.verifier).await;
    assert_eq!(status, 200, "{tokens}");

    let access = tokens["access_token"].as_str().expect("access token");
    let created = create_over_mcp(&app, access, "Filed by a metadata-document client").await;
    let key = created["key"].as_str().expect("key");
    assert_eq!(
        app.reporter_of(key).as_deref(),
        Some(demo::ALICE_ACCOUNT_ID)
    );
    let grants = store_of(&dir).await.signin_grants().await.expect("grants");
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].client_id, client_id);
    // authorize, the callback and the consent each looked the client up:
    // one fetch, the rest from the cache (the document said max-age=300).
    assert_eq!(metadata.fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn refused_metadata_documents_are_pages_and_create_nothing() {
    let metadata = metadata_server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = signin_app_with(&dir, |oauth| oauth.allow_private_client_metadata = true).await;
    for (path, says) in [
        ("/redirect.json", "answered with a redirect"),
        ("/big.json", "larger than 5120 bytes"),
        ("/big-stream.json", "larger than 5120 bytes"),
        (
            "/mismatch.json",
            "names another client id (https://assistant.example.com/client.json)",
        ),
        ("/page.html", "did not answer with a JSON document"),
        ("/missing.json", "answered with HTTP status 404"),
    ] {
        let html = refused_page(&app, &metadata.url(path), NATIVE_REDIRECT).await;
        assert!(html.contains("could not be verified"), "{path}: {html}");
        assert!(html.contains(says), "{path}: {html}");
    }
    // By name, the resolver's way (which the switch lets through): the
    // server is reached on the URL's port.
    let by_name = metadata
        .url("/missing.json")
        .replace("127.0.0.1", "localhost");
    let html = refused_page(&app, &by_name, NATIVE_REDIRECT).await;
    assert!(html.contains("answered with HTTP status 404"), "{html}");
    // A good document, but a redirect URI it does not list.
    let html = refused_page(
        &app,
        &metadata.url("/client.json"),
        "https://evil.example.com/callback",
    )
    .await;
    assert!(
        html.contains("not one of the addresses it registered"),
        "{html}"
    );
    assert_no_grant(&dir).await;
}

#[tokio::test]
async fn metadata_urls_on_private_addresses_or_over_http_are_refused_by_default() {
    let metadata = metadata_server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = signin_app(&dir).await;
    let port = metadata.base.rsplit(':').next().expect("port");
    for (client_id, says) in [
        // An address literal, checked before any connection.
        (
            format!("https://127.0.0.1:{port}/client.json"),
            "leads to 127.0.0.1, a private or local network address",
        ),
        (
            format!("https://[::ffff:127.0.0.1]:{port}/client.json"),
            "a private or local network address",
        ),
        // A name, checked on the addresses it resolves to.
        (
            format!("https://localhost:{port}/client.json"),
            "a private or local network address",
        ),
        (
            "https://169.254.169.254/latest/meta-data".to_owned(),
            "leads to 169.254.169.254",
        ),
        (metadata.url("/client.json"), "must be an https URL"),
    ] {
        let html = refused_page(&app, &client_id, NATIVE_REDIRECT).await;
        assert!(html.contains(says), "{client_id}: {html}");
    }
    assert_eq!(metadata.fetches.load(Ordering::SeqCst), 0);
    assert_no_grant(&dir).await;
}

#[tokio::test]
async fn metadata_from_hosts_off_the_allow_list_is_not_fetched() {
    let metadata = metadata_server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = signin_app_with(&dir, |oauth| {
        oauth.allow_private_client_metadata = true;
        oauth.client_metadata_hosts = vec!["clients.example.com".into()];
    })
    .await;
    let html = refused_page(&app, &metadata.url("/client.json"), NATIVE_REDIRECT).await;
    assert!(
        html.contains("127.0.0.1 is not one of the hosts this server accepts"),
        "{html}"
    );
    assert_eq!(metadata.fetches.load(Ordering::SeqCst), 0);
    assert_no_grant(&dir).await;
}

#[tokio::test]
async fn a_metadata_url_that_never_answers_is_refused_after_the_time_limit() {
    // Connections are queued by the kernel but never accepted nor answered.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/client.json", silent.local_addr().expect("addr"));
    let dir = tempfile::tempdir().expect("temp dir");
    let app = signin_app_with(&dir, |oauth| {
        oauth.allow_private_client_metadata = true;
        oauth.client_metadata_timeout = std::time::Duration::from_millis(200);
    })
    .await;
    let html = refused_page(&app, &url, NATIVE_REDIRECT).await;
    assert!(html.contains("did not answer in time"), "{html}");
    assert_no_grant(&dir).await;
    drop(silent);
}

/// The token checks on an explicit clock (expiry, revocation), on both
/// backends.
#[tokio::test]
async fn the_store_checks_tokens_against_the_time_it_is_given_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = dir.path().join("store.db").display().to_string();
    store_checks_tokens(Store::open(&url, 1).await.expect("store")).await;
}

#[tokio::test]
async fn the_store_checks_tokens_against_the_time_it_is_given_postgres() {
    let Some(url) = common::postgres::fresh_database().await else {
        return;
    };
    store_checks_tokens(Store::open(&url, 2).await.expect("store")).await;
}

async fn store_checks_tokens(store: Store) {
    // An OpenID Connect authorization keeps its nonce and PKCE verifier
    // until the callback, and not past its expiry.
    let request = jira_action::signin::rows::RequestRow {
        id: "request-hash".into(),
        client_id: "client".into(),
        redirect_uri: CONFIGURED_REDIRECT.into(),
        code_challenge: "challenge".into(),
        resource: "https://jira-action.example.com/mcp".into(),
        expires_at_ms: 2_000,
        upstream_nonce: Some("nonce-1".into()),
        upstream_verifier: Some("verifier-1".into()),
        ..Default::default()
    };
    store.signin_request_put(&request).await.expect("request");
    let read = store
        .signin_request(&request.id, 1_999)
        .await
        .expect("read");
    assert_eq!(read.as_ref(), Some(&request));
    let expired = store
        .signin_request(&request.id, 2_000)
        .await
        .expect("read");
    assert_eq!(expired, None);

    let grant = GrantRow {
        id: "grant-1".into(),
        client_id: "client".into(),
        account_id: demo::ALICE_ACCOUNT_ID.into(),
        email: demo::ALICE_EMAIL.into(),
        resource: "https://jira-action.example.com/mcp".into(),
        created_at_ms: 1_000,
        last_used_at_ms: 1_000,
        ..GrantRow::default()
    };
    let code = CodeRow {
        hash: "code-hash".into(),
        grant_id: grant.id.clone(),
        redirect_uri: CONFIGURED_REDIRECT.into(),
        code_challenge: "challenge".into(),
        expires_at_ms: 2_000,
    };
    store
        .signin_grant_with_code(&grant, &code)
        .await
        .expect("grant");
    store
        .signin_token_put("at", &grant.id, TokenKind::Access, 5_000)
        .await
        .expect("put");
    store
        .signin_token_put("rt", &grant.id, TokenKind::Refresh, 9_000)
        .await
        .expect("put");
    assert_eq!(
        store
            .signin_access("at", 4_999)
            .await
            .expect("check")
            .map(|g| g.id),
        Ok(grant.id.clone())
    );
    assert_eq!(
        store.signin_access("at", 5_000).await.expect("check"),
        Err(Refused::Expired)
    );
    assert_eq!(
        store.signin_access("rt", 1_000).await.expect("check"),
        Err(Refused::Unknown),
        "a refresh token is no access token"
    );
    assert_eq!(
        store.signin_access("nope", 1_000).await.expect("check"),
        Err(Refused::Unknown)
    );
    // An expired code is refused (and spent).
    assert_eq!(
        store
            .signin_code_redeem("code-hash", 2_000)
            .await
            .expect("redeem")
            .map(|_| ()),
        Err(Refused::Expired)
    );
    // A refresh token past its lifetime is refused.
    assert_eq!(
        store
            .signin_refresh("rt", 9_000)
            .await
            .expect("refresh")
            .map(|_| ()),
        Err(Refused::Expired)
    );
    // Revoked: every token of the grant stops at once.
    store
        .signin_token_put("at2", &grant.id, TokenKind::Access, 50_000)
        .await
        .expect("put");
    assert!(
        store
            .signin_revoke_grant(&grant.id, 3_000)
            .await
            .expect("revoke")
    );
    assert_eq!(
        store.signin_access("at2", 3_001).await.expect("check"),
        Err(Refused::Revoked)
    );
    assert_eq!(
        store
            .signin_revoke_person(demo::ALICE_EMAIL, None, 3_002)
            .await
            .expect("revoke"),
        0
    );
    // A person's grants end by email, all or one client's.
    for (id, client) in [("grant-2", "client-a"), ("grant-3", "client-b")] {
        let grant = GrantRow {
            id: id.into(),
            client_id: client.into(),
            ..grant.clone()
        };
        let code = CodeRow {
            hash: format!("{id}-code"),
            grant_id: id.into(),
            ..code.clone()
        };
        store
            .signin_grant_with_code(&grant, &code)
            .await
            .expect("grant");
    }
    assert_eq!(store.signin_grants().await.expect("grants").len(), 2);
    let revoke = |client| store.signin_revoke_person("ALICE@example.com", client, 4_000);
    assert_eq!(revoke(Some("client-a")).await.expect("revoke"), 1);
    assert_eq!(revoke(None).await.expect("revoke"), 1);
    assert!(store.signin_grants().await.expect("grants").is_empty());
}

/// `jira-action mcp grants` / `mcp revoke`, as separate processes on the
/// same store: the server refuses the revoked grant's tokens at once.
#[tokio::test]
async fn operators_list_and_revoke_grants_from_the_shell() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = signin_app(&dir).await;
    let (client_id, alice) = signed_in(&app, demo::ALICE_ACCOUNT_ID).await;
    let (_, admin) = signed_in(&app, demo::ADMIN_ACCOUNT_ID).await;
    let store_url = dir.path().join("store.db").display().to_string();
    let cli = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_jira-action"))
            .args(args)
            .args(["--store-url", &store_url])
            .env_remove("JIRA_ACTION_CONFIG")
            .output()
            .expect("the binary runs");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).expect("utf-8")
    };
    let listed = cli(&["mcp", "grants"]);
    assert!(listed.contains(demo::ALICE_EMAIL), "{listed}");
    assert!(listed.contains(demo::ALICE_ACCOUNT_ID), "{listed}");
    assert!(listed.contains(&client_id), "{listed}");
    assert!(listed.contains(demo::ADMIN_EMAIL), "{listed}");

    let revoked = cli(&[
        "mcp",
        "revoke",
        "--user",
        "Alice@Example.com",
        "--client",
        "other-client",
    ]);
    assert!(revoked.starts_with("0 grant(s)"), "{revoked}");
    assert_eq!(mcp_status(&app, Some(&bearer(&alice))).await.0, 200);
    let revoked = cli(&["mcp", "revoke", "--user", demo::ALICE_EMAIL]);
    assert!(revoked.starts_with("1 grant(s)"), "{revoked}");
    assert_eq!(mcp_status(&app, Some(&bearer(&alice))).await.0, 401);
    assert_eq!(mcp_status(&app, Some(&bearer(&admin))).await.0, 200);
    let listed = cli(&["mcp", "grants"]);
    assert!(!listed.contains(demo::ALICE_EMAIL), "{listed}");

    // Sign-ins and refusals are counted.
    let metrics = metrics(&app).await;
    assert!(metrics.contains("jira_action_signins_total 2"), "{metrics}");
    assert!(
        metrics.contains("jira_action_signin_refusals_total{reason=\"token_revoked\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_expired_access_token_gets_invalid_token_and_the_refresh_token_a_new_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = signin_app(&dir).await;
    let (client_id, tokens) = signed_in(&app, demo::ALICE_ACCOUNT_ID).await;
    let access = tokens["access_token"].as_str().expect("access token");
    create_over_mcp(&app, access, "Before expiry").await;
    assert_eq!(app.sim.sim.issues().len(), 1);

    app.clock.advance(std::time::Duration::from_secs(3_600 + 1));
    let (status, challenge) = mcp_status(&app, Some(&bearer(&tokens))).await;
    assert_eq!(status, 401);
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{challenge}"
    );
    assert_eq!(app.sim.sim.issues().len(), 1, "nothing created");
    assert_eq!(refusals(&app, "token_expired").await, "1");

    let refresh_token = tokens["refresh_token"].as_str().expect("refresh token");
    let (status, renewed) = refresh(&app, &client_id, refresh_token).await;
    assert_eq!(status, 200, "{renewed}");
    let (status, _) = mcp_status(&app, Some(&bearer(&renewed))).await;
    assert_eq!(status, 200);
}

/// Whether the server starts with sign-in through `upstream` against a
/// Jira whose flavour it must detect, which is Data Center.
async fn starts_on_a_detected_data_center(
    upstream: jira_action::config::Upstream,
) -> anyhow::Result<()> {
    let sim = jira_sim::Sim::spawn(jira_sim::SimConfig {
        flavor: jira_sim::Flavor::DataCenter,
        ..jira_sim::SimConfig::default()
    })
    .await
    .expect("simulator starts");
    let store_dir = tempfile::tempdir().expect("temp dir");
    let mut config = common::test_config(&sim, store_dir.path());
    config.jira.flavor = jira_action::config::FlavorSetting::Auto;
    let oauth = &mut config.mcp.oauth;
    oauth.enabled = true;
    oauth.upstream = upstream;
    oauth.issuer = Some("http://127.0.0.1:9/".into());
    oauth.client_id = Some("sign-in".into());
    oauth.client_secret = Some(secrecy::SecretString::from("secret"));
    config.validate().expect("the flavour is not known yet");
    jira_action::app::start(config).await.map(drop)
}

#[tokio::test]
async fn atlassian_sign_in_is_refused_at_start_on_a_detected_data_center_and_oidc_is_not() {
    let refused = starts_on_a_detected_data_center(jira_action::config::Upstream::Atlassian)
        .await
        .expect_err("no Atlassian account ids on Data Center");
    assert!(refused.to_string().contains("Data Center"), "{refused}");
    starts_on_a_detected_data_center(jira_action::config::Upstream::Oidc)
        .await
        .expect("OpenID Connect names people by email");
}
