//! Each person signs in through an OpenID Connect provider (upstream
//! `oidc`), black-box against a small provider on a random port
//! (`common/oidc.rs`): the provider's verified email is resolved in Jira as
//! on the Glean path and files as its reporter; each check of the ID token
//! and of discovery refuses with a page, granting and creating nothing.
//! Runs against Cloud, and against Data Center as `signin_oidc_datacenter`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;
#[path = "common/oidc.rs"]
mod oidc;
#[path = "common/signin.rs"]
mod signin_flow;

use common::TestApp;
use jira_sim::demo;
use oidc::OidcProvider;
use secrecy::SecretString;
use signin_flow::*;

/// The server with sign-in through `provider` (upstream `oidc`).
async fn oidc_app(dir: &tempfile::TempDir, provider: &OidcProvider) -> TestApp {
    let issuer = provider.issuer.clone();
    signin_app_with(dir, move |oauth| {
        oauth.upstream = jira_action::config::Upstream::Oidc;
        oauth.issuer = Some(issuer);
        oauth.client_id = Some(oidc::CLIENT_ID.into());
        oauth.client_secret = Some(SecretString::from(oidc::CLIENT_SECRET));
    })
    .await
}

/// The configured client's request through authorize and the provider, up
/// to what the server's OpenID Connect callback answers.
async fn oidc_callback(app: &TestApp, provider: &OidcProvider, pkce: &Pkce) -> reqwest::Response {
    let http = browser();
    let params = request_params(app, CONFIGURED_CLIENT, CONFIGURED_REDIRECT, pkce);
    let to_provider = authorize(app, &params).await;
    assert_eq!(to_provider.status(), 303);
    let upstream = location(&to_provider);
    assert!(
        upstream.as_str().starts_with(&provider.issuer),
        "{upstream}"
    );
    let query = query_of(&upstream);
    assert_eq!(query["scope"], "openid email");
    assert_eq!(query["redirect_uri"], app.url("/oauth/oidc/callback"));
    assert_eq!(query["code_challenge_method"], "S256");
    // The provider's PKCE is the server's own, not the client's.
    assert_ne!(query["code_challenge"], pkce.challenge);
    let back = http.get(upstream).send().await.expect("provider answers");
    assert!(back.status().is_redirection(), "{}", back.status());
    let callback = location(&back);
    assert_eq!(callback.path(), "/oauth/oidc/callback");
    http.get(callback).send().await.expect("callback answers")
}

#[tokio::test]
async fn an_oidc_sign_in_files_as_the_account_its_verified_email_finds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let provider = OidcProvider::spawn(oidc::Knobs::default()).await;
    let app = oidc_app(&dir, &provider).await;
    let pkce = new_pkce();
    let page = consent_page(oidc_callback(&app, &provider, &pkce).await).await;
    assert!(page.html.contains(demo::ALICE_EMAIL), "{}", page.html);
    let allowed = decide(&app, &page, "allow").await;
    let code = query_of(&location(&allowed))["code"].clone();
    let (status, tokens) = redeem_configured(&app, &code, &pkce.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    // No token_endpoint_auth_methods_supported: client_secret_basic.
    assert_eq!(provider.client_auth(), ["basic"]);

    let created = create_over_mcp(
        &app,
        tokens["access_token"].as_str().expect("token"),
        "Via OIDC",
    )
    .await;
    let key = created["key"].as_str().expect("key");
    let alice = app.account_id(demo::ALICE_EMAIL).await;
    assert_eq!(app.reporter_of(key), Some(alice));
    let grants = store_of(&dir).await.signin_grants().await.expect("grants");
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].email, demo::ALICE_EMAIL);
    assert_eq!(
        grants[0].account_id, "",
        "no account id: the email is the person"
    );
}

#[tokio::test]
async fn an_oidc_provider_taking_only_client_secret_post_with_email_at_userinfo() {
    let dir = tempfile::tempdir().expect("temp dir");
    let provider = OidcProvider::spawn(oidc::Knobs {
        email: demo::BOB_EMAIL.into(),
        email_only_at_userinfo: true,
        auth_methods: Some(vec!["client_secret_post".into()]),
        ..oidc::Knobs::default()
    })
    .await;
    let app = oidc_app(&dir, &provider).await;
    let page = consent_page(oidc_callback(&app, &provider, &new_pkce()).await).await;
    assert!(page.html.contains(demo::BOB_EMAIL), "{}", page.html);
    assert_eq!(provider.client_auth(), ["post"]);
}

#[tokio::test]
async fn oidc_id_tokens_that_fail_a_check_sign_nobody_in() {
    let dir = tempfile::tempdir().expect("temp dir");
    let provider = OidcProvider::spawn(oidc::Knobs::default()).await;
    let app = oidc_app(&dir, &provider).await;
    type Spoil = fn(&mut oidc::Knobs);
    let wrong: [(&str, u16, Spoil); 5] = [
        ("unverified email", 403, |k| k.email_verified = false),
        ("another nonce", 502, |k| k.nonce = Some("replayed".into())),
        ("another audience", 502, |k| {
            k.aud = Some("someone-else".into())
        }),
        ("another issuer", 502, |k| {
            k.iss = Some("https://evil.example.com".into())
        }),
        ("expired", 502, |k| k.expired = true),
    ];
    for (what, status, change) in wrong {
        provider.set(|knobs| {
            *knobs = oidc::Knobs::default();
            change(knobs);
        });
        let answer = oidc_callback(&app, &provider, &new_pkce()).await;
        assert_eq!(answer.status().as_u16(), status, "{what}");
        assert!(
            answer.headers().get("set-cookie").is_none(),
            "{what}: no consent"
        );
        let html = answer.text().await.expect("html");
        assert!(!html.contains("name=\"csrf\""), "{what}: {html}");
    }
    assert_no_grant(&dir).await;
    assert!(app.sim.sim.issues().is_empty());
    assert_eq!(refusals(&app, "email_unverified").await, "1");
    assert_eq!(refusals(&app, "id_token_invalid").await, "4");
    // The same provider, put right, signs in: the refusals were the checks.
    provider.set(|knobs| *knobs = oidc::Knobs::default());
    consent_page(oidc_callback(&app, &provider, &new_pkce()).await).await;
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_stops_sign_in_at_authorize() {
    let dir = tempfile::tempdir().expect("temp dir");
    let provider = OidcProvider::spawn(oidc::Knobs {
        discovery_issuer: Some("https://login.example.com".into()),
        ..oidc::Knobs::default()
    })
    .await;
    let app = oidc_app(&dir, &provider).await;
    let pkce = new_pkce();
    let params = request_params(&app, CONFIGURED_CLIENT, CONFIGURED_REDIRECT, &pkce);
    let answer = authorize(&app, &params).await;
    assert_eq!(answer.status(), 502);
    assert!(answer.headers().get("location").is_none());
    assert_eq!(refusals(&app, "upstream_discovery").await, "1");
    assert_no_grant(&dir).await;
    assert!(app.sim.sim.issues().is_empty());
}
