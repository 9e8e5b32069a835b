//! The client against the simulator and against a hostile server.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use std::sync::Arc;
use std::time::Duration;

use jira::{ApiBase, Auth, CALL_TALLY, CallTally, ClientConfig, Error, JiraClient, RetryPolicy};
use jira_sim::{Endpoint, Fault, FaultKind, Sim, SimConfig, demo};
use secrecy::SecretString;

fn client(base: &str, retry: RetryPolicy) -> JiraClient {
    let mut config = ClientConfig::new(ApiBase::Site(base.parse().expect("url")));
    config.request_timeout = Duration::from_millis(500);
    config.retry = retry;
    JiraClient::new(
        config,
        Auth::Basic {
            email: demo::ADMIN_EMAIL.into(),
            token: SecretString::from(demo::ADMIN_TOKEN),
        },
    )
    .expect("client")
}

#[tokio::test]
async fn path_values_stay_one_segment() {
    let sim = Sim::spawn(SimConfig::default()).await.expect("sim");
    let jira = client(&sim.base_url(), RetryPolicy::none());
    for hostile in ["../myself", "DEMO/../../myself", "..", "%2e%2e/myself"] {
        let err = jira.project(hostile).await.expect_err("no such project");
        assert_eq!(err.status(), Some(404), "{hostile}: {err}");
    }
    assert_eq!(sim.sim.calls(Endpoint::Myself), 0);
    assert_eq!(
        jira.project("DEMO").await.expect("project").id,
        demo::DEMO_PROJECT_ID
    );
}

#[tokio::test]
async fn typed_errors_carry_jiras_messages() {
    let sim = Sim::spawn(SimConfig::default()).await.expect("sim");
    let jira = client(&sim.base_url(), RetryPolicy::none());
    let bad = jira.with_auth(Auth::Basic {
        email: demo::ADMIN_EMAIL.into(),
        token: SecretString::from("wrong"),
    });
    let err = bad.myself().await.expect_err("refused");
    assert_eq!(err.status(), Some(401));
    assert!(!err.to_string().contains("wrong"));
    let me = jira.myself().await.expect("myself");
    assert_eq!(me.account_id, demo::ADMIN_ACCOUNT_ID);
}

#[tokio::test]
async fn retry_after_beyond_the_budget_gives_up_at_once() {
    let sim = Sim::spawn(SimConfig::default()).await.expect("sim");
    let jira = client(
        &sim.base_url(),
        RetryPolicy {
            budget: Duration::from_secs(2),
            ..RetryPolicy::default()
        },
    );
    sim.sim
        .push_fault(Fault::once(Endpoint::Myself, FaultKind::rate_limited(30)));
    let tally = Arc::new(CallTally::default());
    match CALL_TALLY.scope(Arc::clone(&tally), jira.myself()).await {
        Err(Error::RateLimited { retry_after }) => assert_eq!(retry_after, Duration::from_secs(30)),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(tally.pausing(), Duration::ZERO, "did not wait 30 s");
    assert_eq!(sim.sim.calls(Endpoint::Myself), 1);
}

#[tokio::test]
async fn reads_are_retried_after_short_waits() {
    let sim = Sim::spawn(SimConfig::default()).await.expect("sim");
    let jira = client(&sim.base_url(), RetryPolicy::default());
    sim.sim
        .push_fault(Fault::once(Endpoint::Myself, FaultKind::status(502)));
    sim.sim
        .push_fault(Fault::once(Endpoint::Myself, FaultKind::rate_limited(0)));
    jira.myself().await.expect("third attempt succeeds");
    assert_eq!(sim.sim.calls(Endpoint::Myself), 3);
}

#[tokio::test]
async fn timeouts_are_typed() {
    let sim = Sim::spawn(SimConfig::default()).await.expect("sim");
    let jira = client(&sim.base_url(), RetryPolicy::none());
    sim.sim.push_fault(Fault::once(
        Endpoint::Myself,
        FaultKind::Delay(Duration::from_secs(2)),
    ));
    assert!(matches!(jira.myself().await, Err(Error::Timeout)));
}

#[tokio::test]
async fn nothing_jira_answers_is_followed_as_a_url() {
    // A server that redirects every request elsewhere.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let _ = socket
                .write_all(b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let jira = client(&format!("http://{addr}"), RetryPolicy::none());
    let err = jira.myself().await.expect_err("a redirect is an error");
    assert_eq!(err.status(), Some(302));
}

#[tokio::test]
async fn browse_links_use_the_site_even_through_the_gateway() {
    let sim = Sim::spawn(SimConfig::default()).await.expect("sim");
    let mut config = ClientConfig::new(ApiBase::Gateway {
        api_url: sim.base_url().parse().expect("url"),
        cloud_id: demo::CLOUD_ID.into(),
    });
    config.site_url = Some("https://demo.atlassian.net".parse().expect("url"));
    let jira = JiraClient::new(
        config,
        Auth::Bearer(SecretString::from(demo::ADMIN_OAUTH_TOKEN)),
    )
    .expect("client");
    assert_eq!(
        jira.myself().await.expect("myself").account_id,
        demo::ADMIN_ACCOUNT_ID
    );
    assert_eq!(
        jira.browse_url("DEMO-1"),
        "https://demo.atlassian.net/browse/DEMO-1"
    );
    // Without a site URL the gateway form cannot make links: refused upfront.
    let no_site = ClientConfig::new(ApiBase::Gateway {
        api_url: sim.base_url().parse().expect("url"),
        cloud_id: demo::CLOUD_ID.into(),
    });
    assert!(JiraClient::new(no_site, Auth::None).is_err());
}

mod oauth {
    use jira::{OAuthApp, OAuthError};
    use jira_sim::{Sim, SimConfig, demo};
    use secrecy::{ExposeSecret, SecretString};

    fn app(sim_url: &str) -> OAuthApp {
        OAuthApp {
            client_id: demo::OAUTH_CLIENT_ID.into(),
            client_secret: SecretString::from(demo::OAUTH_CLIENT_SECRET),
            auth_url: sim_url.parse().expect("url"),
            redirect_uri: "http://127.0.0.1:9/oauth/callback".parse().expect("url"),
            scopes: vec!["write:jira-work".into(), "offline_access".into()],
        }
    }

    #[tokio::test]
    async fn code_exchange_and_rotating_refresh() {
        let sim = Sim::spawn(SimConfig::default()).await.expect("sim");
        let app = app(&sim.base_url());
        let url = app.authorize_url("state-1");
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        for (key, value) in [
            ("audience", "api.atlassian.com"),
            ("prompt", "consent"),
            ("response_type", "code"),
            ("state", "state-1"),
            ("scope", "write:jira-work offline_access"),
        ] {
            assert!(
                query.contains(&(key.into(), value.into())),
                "{key} in {url}"
            );
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let consent = http.get(url).send().await.expect("answers");
        let location = consent.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let code = location
            .split("code=")
            .nth(1)
            .and_then(|rest| rest.split('&').next())
            .expect("code");
        let tokens = app.exchange_code(&http, code).await.expect("tokens");
        let refresh = tokens.refresh_token.clone().expect("refresh token");
        let next = app.refresh(&http, &refresh).await.expect("refreshed");
        assert_ne!(
            next.refresh_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
            Some(refresh.expose_secret().to_owned()),
            "rotated"
        );
        assert!(matches!(
            app.refresh(&http, &SecretString::from("unknown")).await,
            Err(OAuthError::InvalidGrant)
        ));
        assert!(matches!(
            app.exchange_code(&http, code).await,
            Err(OAuthError::InvalidGrant)
        ));
    }
}
