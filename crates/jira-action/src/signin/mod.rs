//! Each person signs in: jira-action as the OAuth 2.1 authorization server
//! and resource server of `/mcp`, following the MCP authorization
//! specification, with the login itself handed to Atlassian.
//!
//! The flow: an MCP client gets `401` from `/mcp` with the protected-resource
//! metadata's URL (RFC 9728), finds this server's authorization-server
//! metadata (RFC 8414), registers (RFC 7591, or is configured), and sends
//! the person's browser to `/oauth/authorize` with PKCE (S256) and the
//! `resource` (RFC 8707). The browser goes on to Atlassian (`read:me`),
//! comes back to `/oauth/atlassian/callback`, where `GET /me` names the
//! account (or, with upstream `oidc`, to an OpenID Connect provider and
//! back to `/oauth/oidc/callback`, where the ID token names a verified
//! email), and sees the consent page; Allow redirects to the client with
//! a code, which `/oauth/token` exchanges for an access token (1 hour by
//! default) and a rotating refresh token. Codes and tokens are stored
//! hashed (`rows.rs`, `store::signin`), so every process sharing the store accepts
//! and revokes them at once.

pub mod address;
pub mod cli;
pub mod metadata;
pub mod oidc;
pub mod pages;
pub mod redirect;
pub mod rows;
pub mod secret;
pub mod upstream;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::config::{McpOAuthConfig, Upstream};
use oidc::Oidc;
use rows::{ClientRow, CodeRow, GrantRow, Refused, RequestRow, TokenKind};
use upstream::Atlassian;

/// The cookie that ties the consent form to the browser that signed in.
const CSRF_COOKIE: &str = "jira_action_consent";

/// The metadata paths (RFC 9728 section 3.1, RFC 8414 section 3).
pub const PROTECTED_RESOURCE: &str = "/.well-known/oauth-protected-resource";
pub const AUTHORIZATION_SERVER: &str = "/.well-known/oauth-authorization-server";

/// Where people sign in: `mcp.oauth.upstream`.
#[derive(Debug)]
enum Provider {
    Atlassian(Atlassian),
    Oidc(Oidc),
}

/// The callback path of each upstream (registered with the provider).
const ATLASSIAN_CALLBACK: &str = "/oauth/atlassian/callback";
const OIDC_CALLBACK: &str = "/oauth/oidc/callback";

/// Sign-in, as configured for this deployment.
#[derive(Debug)]
pub struct SignIn {
    pub config: McpOAuthConfig,
    /// The public URL without a trailing slash: the `iss` of this server.
    pub issuer: String,
    /// `<issuer>/mcp`: the one resource tokens are issued for.
    pub resource: String,
    /// Where a `401` points clients (the path form of the metadata).
    pub metadata_url: String,
    upstream: Provider,
    /// Clients by metadata document, when they are accepted.
    documents: Option<metadata::Documents>,
    /// Cookies only over HTTPS when the public URL is HTTPS.
    secure_cookies: bool,
}

impl SignIn {
    pub fn new(config: &McpOAuthConfig, public_url: &str) -> anyhow::Result<SignIn> {
        let issuer = public_url.trim_end_matches('/').to_owned();
        let (Some(client_id), Some(client_secret)) = (&config.client_id, &config.client_secret)
        else {
            anyhow::bail!("mcp.oauth needs client_id and client_secret");
        };
        if config.client_metadata_documents && config.allow_private_client_metadata {
            tracing::warn!(
                "mcp.oauth.allow_private_client_metadata is on: client metadata is fetched over http and from private addresses (development only)"
            );
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(SignIn {
            config: config.clone(),
            resource: format!("{issuer}{}", crate::mcp::PATH),
            metadata_url: format!("{issuer}{PROTECTED_RESOURCE}{}", crate::mcp::PATH),
            upstream: match (&config.upstream, &config.issuer) {
                (Upstream::Oidc, Some(provider)) => Provider::Oidc(Oidc::new(
                    provider.clone(),
                    client_id.clone(),
                    client_secret.clone(),
                    format!("{issuer}{OIDC_CALLBACK}"),
                    http,
                )),
                (Upstream::Oidc, None) => {
                    anyhow::bail!("mcp.oauth.upstream = \"oidc\" needs mcp.oauth.issuer")
                }
                (Upstream::Atlassian, _) => Provider::Atlassian(Atlassian {
                    client_id: client_id.clone(),
                    client_secret: client_secret.clone(),
                    auth_url: config.auth_url.clone(),
                    api_url: config.api_url.clone(),
                    callback: format!("{issuer}{ATLASSIAN_CALLBACK}"),
                    http,
                }),
            },
            documents: match config.client_metadata_documents {
                true => Some(metadata::Documents::new(config)?),
                false => None,
            },
            secure_cookies: issuer.starts_with("https://"),
            issuer,
        })
    }

    /// The `WWW-Authenticate` of a `401` from `/mcp`.
    pub fn challenge(&self, invalid_token: bool) -> String {
        match invalid_token {
            true => format!(
                "Bearer error=\"invalid_token\", resource_metadata=\"{}\"",
                self.metadata_url
            ),
            false => format!("Bearer resource_metadata=\"{}\"", self.metadata_url),
        }
    }

    /// Whether a `resource` names this server's `/mcp` (a trailing slash
    /// aside).
    fn is_ours(&self, resource: &str) -> bool {
        resource.trim_end_matches('/') == self.resource
    }

    fn ttl_ms(ttl: Duration) -> i64 {
        i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A client's `client_name` as shown on the consent page: no control
/// characters, at most 100 characters.
fn display_name(name: &Value) -> Option<String> {
    name.as_str()
        .map(|n| n.chars().filter(|c| !c.is_control()).take(100).collect())
}

/// A client: one listed in the configuration, one that registered, or one
/// described by its metadata document.
#[derive(Clone, Debug)]
struct Client {
    id: String,
    name: String,
    redirect_uris: Vec<String>,
}

/// Why a client id gave no client.
enum NoClient {
    Unknown,
    /// Its metadata document was refused.
    Metadata(metadata::Refusal),
}

async fn find_client(state: &AppState, signin: &SignIn, id: &str) -> Result<Client, NoClient> {
    if let Some(listed) = signin.config.clients.iter().find(|c| c.client_id == id) {
        return Ok(Client {
            id: listed.client_id.clone(),
            name: listed
                .name
                .clone()
                .unwrap_or_else(|| listed.client_id.clone()),
            redirect_uris: listed.redirect_uris.clone(),
        });
    }
    if let Some(documents) = &signin.documents
        && metadata::is_url(id)
    {
        return match documents.client(id).await {
            Ok(client) => Ok(Client::clone(&client)),
            Err(refusal) => Err(NoClient::Metadata(refusal)),
        };
    }
    match state.store().signin_client(id).await {
        Ok(row) => row
            .map(|row| Client {
                name: row.name.unwrap_or_else(|| row.client_id.clone()),
                id: row.client_id,
                redirect_uris: row.redirect_uris,
            })
            .ok_or(NoClient::Unknown),
        Err(err) => {
            tracing::warn!(cause = %err, "cannot read the client");
            Err(NoClient::Unknown)
        }
    }
}

/// The sign-in routes, when sign-in is on.
pub fn router(state: &Arc<AppState>) -> Option<Router<Arc<AppState>>> {
    let callback_path = match state.signin().as_ref()?.upstream {
        Provider::Atlassian(_) => ATLASSIAN_CALLBACK,
        Provider::Oidc(_) => OIDC_CALLBACK,
    };
    Some(
        Router::new()
            .route(PROTECTED_RESOURCE, get(protected_resource))
            .route(
                &format!("{PROTECTED_RESOURCE}{}", crate::mcp::PATH),
                get(protected_resource),
            )
            .route(AUTHORIZATION_SERVER, get(authorization_server))
            .route("/oauth/register", post(register))
            .route("/oauth/authorize", get(authorize))
            .route(callback_path, get(callback))
            .route("/oauth/consent", post(consent))
            .route("/oauth/token", post(token))
            .route("/oauth/revoke", post(revoke)),
    )
}

fn signin(state: &AppState) -> Option<&SignIn> {
    state.signin().as_deref()
}

fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

/// Counts a refusal by reason (`/metrics`) and logs it.
fn refused(state: &AppState, reason: impl Into<std::borrow::Cow<'static, str>>) {
    let reason = reason.into();
    tracing::info!(reason = %reason, "sign-in refused");
    state.metrics().signin_refused(reason);
}

/// RFC 9728: what `/mcp` is and who issues its tokens.
async fn protected_resource(State(state): State<Arc<AppState>>) -> Response {
    let Some(signin) = signin(&state) else {
        return not_found();
    };
    axum::Json(json!({
        "resource": signin.resource,
        "authorization_servers": [signin.issuer],
        "bearer_methods_supported": ["header"],
        "resource_name": "jira-action",
    }))
    .into_response()
}

/// RFC 8414: the endpoints and what they support.
async fn authorization_server(State(state): State<Arc<AppState>>) -> Response {
    let Some(signin) = signin(&state) else {
        return not_found();
    };
    let issuer = &signin.issuer;
    let mut metadata = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": signin.documents.is_some(),
    });
    if signin.config.dynamic_registration {
        metadata["registration_endpoint"] = json!(format!("{issuer}/oauth/register"));
    }
    axum::Json(metadata).into_response()
}

/// An OAuth error answer (RFC 6749 section 5.2).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// RFC 7591: a client registers its redirect URIs and gets an id. Every
/// client is public (PKCE, no secret): a requested secret-based method is
/// replaced by `none`, as section 3.2.1 allows.
async fn register(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Some(signin) = signin(&state) else {
        return not_found();
    };
    if !signin.config.dynamic_registration {
        refused(&state, "registration_off");
        return oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            "This server does not let clients register themselves; ask its administrator to list yours.",
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            "The body must be a JSON object.",
        );
    };
    let Some(uris) = redirect::registrable_list(&request["redirect_uris"]) else {
        refused(&state, "invalid_redirect_uri");
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            redirect::REGISTRABLE_RULE,
        );
    };
    let name = display_name(&request["client_name"]);
    let row = ClientRow {
        client_id: format!("jacl_{}", uuid::Uuid::new_v4().simple()),
        name,
        redirect_uris: uris,
        created_at_ms: (state.clock())(),
    };
    if let Err(err) = state.store().signin_client_put(&row).await {
        tracing::warn!(cause = %err, "cannot store the client");
        return oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "Registration failed; try again.",
        );
    }
    let mut answer = json!({
        "client_id": row.client_id,
        "client_id_issued_at": row.created_at_ms / 1000,
        "redirect_uris": row.redirect_uris,
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    });
    if let Some(name) = &row.name {
        answer["client_name"] = json!(name);
    }
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

/// The client's redirect URI with an error (after the URI was checked).
fn redirect_error(
    redirect_uri: &str,
    client_state: Option<&str>,
    issuer: &str,
    error: &str,
    description: &str,
) -> Response {
    back_to_client(
        redirect_uri,
        &[("error", error), ("error_description", description)],
        client_state,
        issuer,
    )
}

/// The browser back to the client's (checked) redirect URI with `pairs`,
/// its `state` and this server's `iss` (RFC 9207).
fn back_to_client(
    redirect_uri: &str,
    pairs: &[(&str, &str)],
    client_state: Option<&str>,
    issuer: &str,
) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return pages::problem(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The application's redirect URI is not a URL.",
        );
    };
    {
        let mut query = url.query_pairs_mut();
        query.extend_pairs(pairs);
        if let Some(s) = client_state {
            query.append_pair("state", s);
        }
        query.append_pair("iss", issuer);
    }
    Redirect::to(url.as_str()).into_response()
}

/// `GET /oauth/authorize`: checks the client's request, then sends the
/// browser to Atlassian. Until the redirect URI is known good, errors are
/// pages (never a redirect to an unchecked URI); after, they go back to
/// the client.
async fn authorize(
    State(state): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(signin) = signin(&state) else {
        return not_found();
    };
    let get = |name: &str| param(&query, name);
    let Some(client_id) = get("client_id") else {
        refused(&state, "unknown_client");
        return pages::problem(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The application did not say who it is (no client_id). Start again from the application.",
        );
    };
    let client = match find_client(&state, signin, client_id).await {
        Ok(client) => client,
        Err(NoClient::Unknown) => {
            refused(&state, "unknown_client");
            return pages::problem(
                StatusCode::BAD_REQUEST,
                "Unknown application",
                "This server does not know the application that sent you here. It may need to register again: start again from the application.",
            );
        }
        Err(NoClient::Metadata(refusal)) => {
            refused(&state, refusal.reason());
            return pages::problem(
                StatusCode::BAD_REQUEST,
                "Sign-in stopped: the application could not be verified",
                &format!(
                    "The application that sent you here identifies itself by the address {client_id}, but {refusal}. You were not signed in; nothing was shared. Tell the application's maintainers, or your administrator."
                ),
            );
        }
    };
    let redirect_uri = match get("redirect_uri") {
        Some(uri) => uri.to_owned(),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => {
            refused(&state, "redirect_uri_mismatch");
            return pages::problem(
                StatusCode::BAD_REQUEST,
                "Sign-in failed",
                "The application did not say where to send you back (no redirect_uri).",
            );
        }
    };
    if !client
        .redirect_uris
        .iter()
        .any(|registered| redirect::matches(registered, &redirect_uri))
    {
        refused(&state, "redirect_uri_mismatch");
        return pages::problem(
            StatusCode::BAD_REQUEST,
            "Sign-in stopped: wrong return address",
            &format!(
                "The application {} asked to send you back to {redirect_uri}, which is not one of the addresses it registered. You were not signed in; nothing was shared. Tell the application's maintainers, or your administrator.",
                client.name
            ),
        );
    }
    let client_state = get("state");
    let back = |reason: &'static str, error: &str, description: &str| {
        refused(&state, reason);
        redirect_error(
            &redirect_uri,
            client_state,
            &signin.issuer,
            error,
            description,
        )
    };
    if get("response_type") != Some("code") {
        return back(
            "unsupported_response_type",
            "unsupported_response_type",
            "Only response_type=code is supported.",
        );
    }
    let Some(challenge) = get("code_challenge") else {
        return back(
            "pkce_missing",
            "invalid_request",
            "PKCE is required: send code_challenge with code_challenge_method=S256.",
        );
    };
    if get("code_challenge_method") != Some("S256") || !secret::is_challenge(challenge) {
        return back(
            "pkce_not_s256",
            "invalid_request",
            "Only code_challenge_method=S256 is supported, with a 43-character challenge.",
        );
    }
    match get("resource") {
        Some(resource) if signin.is_ours(resource) => {}
        Some(_) => {
            return back(
                "foreign_resource",
                "invalid_target",
                "The resource is not this server's MCP endpoint.",
            );
        }
        None => {
            return back(
                "resource_missing",
                "invalid_target",
                "The resource parameter (RFC 8707) is required: this server's MCP endpoint URL.",
            );
        }
    }
    let upstream_state = secret::new("");
    let (to_upstream, upstream_nonce, upstream_verifier) = match &signin.upstream {
        Provider::Atlassian(atlassian) => (atlassian.authorize_url(&upstream_state), None, None),
        Provider::Oidc(provider) => {
            let (nonce, verifier) = (secret::new(""), secret::new(""));
            match provider
                .authorize_url(&upstream_state, &nonce, &secret::challenge(&verifier))
                .await
            {
                Ok(url) => (url, Some(nonce), Some(verifier)),
                Err(err) => {
                    tracing::warn!(cause = %err, "the OpenID Connect provider cannot be used");
                    refused(&state, err.reason());
                    return pages::problem(
                        StatusCode::BAD_GATEWAY,
                        "Sign-in is unavailable",
                        "This server cannot reach the sign-in provider it is configured with, or the provider is not the one configured. You were not signed in; nothing was shared. Tell your administrator.",
                    );
                }
            }
        }
    };
    let now = (state.clock())();
    let row = RequestRow {
        id: secret::hash(&upstream_state),
        client_id: client.id,
        redirect_uri,
        state: client_state.map(str::to_owned),
        code_challenge: challenge.to_owned(),
        resource: signin.resource.clone(),
        expires_at_ms: now.saturating_add(SignIn::ttl_ms(signin.config.authorization_ttl)),
        upstream_nonce,
        upstream_verifier,
        ..RequestRow::default()
    };
    if let Err(err) = state.store().signin_request_put(&row).await {
        tracing::warn!(cause = %err, "cannot store the authorization");
        return unavailable();
    }
    Redirect::to(to_upstream.as_str()).into_response()
}

fn unavailable() -> Response {
    pages::problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in is unavailable",
        "The server could not save your sign-in. Try again in a minute.",
    )
}

fn expired_page() -> Response {
    pages::problem(
        StatusCode::BAD_REQUEST,
        "This sign-in has expired",
        "The sign-in link has expired or was already used. Start again from the application.",
    )
}

/// `GET /oauth/atlassian/callback`: Atlassian sends the browser back with
/// a code; `/me` says who signed in; the consent page follows.
async fn callback(
    State(state): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(signin) = signin(&state) else {
        return not_found();
    };
    let get = |name: &str| param(&query, name);
    let Some(upstream_state) = get("state") else {
        refused(&state, "upstream_state_missing");
        return expired_page();
    };
    let now = (state.clock())();
    let id = secret::hash(upstream_state);
    let request = match state.store().signin_request(&id, now).await {
        Ok(Some(request)) if request.account_id.is_none() => request,
        Ok(_) => {
            refused(&state, "authorization_expired");
            return expired_page();
        }
        Err(err) => {
            tracing::warn!(cause = %err, "cannot read the authorization");
            return unavailable();
        }
    };
    let Some(code) = get("code") else {
        refused(&state, "upstream_denied");
        return pages::problem(
            StatusCode::FORBIDDEN,
            "Sign-in did not finish",
            "The sign-in provider did not confirm who you are (the sign-in was cancelled or refused). Start again from the application.",
        );
    };
    let person = match &signin.upstream {
        Provider::Atlassian(atlassian) => atlassian_person(&state, atlassian, code).await,
        Provider::Oidc(provider) => oidc_person(&state, provider, &request, code, now).await,
    };
    let me = match person {
        Ok(person) => person,
        Err(page) => return page,
    };
    let email = match me
        .email
        .as_deref()
        .map(crate::glean::email::parse)
        .transpose()
    {
        Ok(Some(email)) => email,
        _ => {
            refused(&state, "email_missing");
            return pages::problem(
                StatusCode::FORBIDDEN,
                "No email address",
                "The sign-in provider did not give an email address for your account, which this server needs for its access rules.",
            );
        }
    };
    if !state.config().access.caller_allowed(&email) {
        refused(&state, "caller_not_allowed");
        return pages::problem(
            StatusCode::FORBIDDEN,
            "Not allowed",
            &format!("{email} may not file issues through this server. Ask your administrator."),
        );
    }
    let csrf = secret::new("");
    match state
        .store()
        .signin_request_signed_in(
            &id,
            &me.account_id,
            &email,
            me.name.as_deref(),
            &secret::hash(&csrf),
            now,
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            refused(&state, "authorization_expired");
            return expired_page();
        }
        Err(err) => {
            tracing::warn!(cause = %err, "cannot store the sign-in");
            return unavailable();
        }
    }
    let client = find_client(&state, signin, &request.client_id).await.ok();
    let client_name = client
        .as_ref()
        .map(|c| c.name.clone())
        .unwrap_or_else(|| request.client_id.clone());
    let site = site_of(&state);
    let mut response = pages::consent(&pages::Consent {
        client: &client_name,
        client_id: &request.client_id,
        redirect_uri: &request.redirect_uri,
        site: &site,
        person: me.name.as_deref().unwrap_or(&email),
        email: &email,
        request: upstream_state,
        csrf: &csrf,
    });
    let cookie = format!(
        "{CSRF_COOKIE}={csrf}; Path=/oauth; HttpOnly; SameSite=Strict; Max-Age={}{}",
        signin.config.authorization_ttl.as_secs(),
        if signin.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Who signed in upstream: an Atlassian account, or (OpenID Connect) only
/// a verified email, with an empty account id: the email is then looked up
/// in Jira at each call, as on the Glean path.
struct Upstreamed {
    account_id: String,
    email: Option<String>,
    name: Option<String>,
}

/// The person behind an Atlassian code (`/me`), if active.
async fn atlassian_person(
    state: &AppState,
    atlassian: &Atlassian,
    code: &str,
) -> Result<Upstreamed, Response> {
    let me = match atlassian.person(code).await {
        Ok(me) => me,
        Err(err) => {
            tracing::warn!(cause = %err, "sign-in with Atlassian failed");
            refused(state, "upstream_failed");
            return Err(upstream_failed_page());
        }
    };
    if me.account_status.as_deref().is_some_and(|s| s != "active") {
        refused(state, "account_inactive");
        return Err(pages::problem(
            StatusCode::FORBIDDEN,
            "Your Atlassian account is not active",
            "Only active accounts can file issues.",
        ));
    }
    Ok(Upstreamed {
        account_id: me.account_id,
        email: me.email,
        name: me.name,
    })
}

/// The person behind an OpenID Connect code: the ID token checked against
/// this request's nonce, the email verified.
async fn oidc_person(
    state: &AppState,
    provider: &Oidc,
    request: &RequestRow,
    code: &str,
    now: i64,
) -> Result<Upstreamed, Response> {
    let (Some(nonce), Some(verifier)) = (&request.upstream_nonce, &request.upstream_verifier)
    else {
        // Begun before the upstream was switched to OpenID Connect.
        refused(state, "authorization_expired");
        return Err(expired_page());
    };
    let person = match provider.person(code, verifier, nonce, now).await {
        Ok(person) => person,
        Err(err) => {
            tracing::warn!(cause = %err, "sign-in with the OpenID Connect provider failed");
            refused(state, err.reason());
            return Err(upstream_failed_page());
        }
    };
    if person.email.is_some() && !person.email_verified {
        refused(state, "email_unverified");
        return Err(pages::problem(
            StatusCode::FORBIDDEN,
            "Your email address is not verified",
            "The sign-in provider says your email address is not verified, and this server names you in Jira by it. Verify it with your provider (or ask your administrator), then start again from the application.",
        ));
    }
    Ok(Upstreamed {
        account_id: String::new(),
        email: person.email,
        name: person.name,
    })
}

fn upstream_failed_page() -> Response {
    pages::problem(
        StatusCode::BAD_GATEWAY,
        "Sign-in failed",
        "The sign-in provider did not confirm who you are. Start again from the application; if it keeps failing, tell your administrator.",
    )
}

/// The Jira site people file into, for the consent page.
fn site_of(state: &AppState) -> String {
    let jira = &state.config().jira;
    if let Some(site) = jira.site_url.as_ref().or(jira.url.as_ref()) {
        return site.to_string();
    }
    state
        .tokens()
        .as_ref()
        .map(|tokens| tokens.site_url.clone())
        .unwrap_or_else(|| "the configured Jira site".to_owned())
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A parameter of a query or form; empty counts as absent (RFC 6749
/// section 3.1).
fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// `POST /oauth/consent`: Allow or Deny, from the page `callback` served
/// to this browser (its CSRF token in the form and in the cookie).
async fn consent(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(signin) = signin(&state) else {
        return not_found();
    };
    let form = form(&body);
    let get = |name: &str| param(&form, name);
    let forged = || {
        refused(&state, "csrf");
        pages::problem(
            StatusCode::FORBIDDEN,
            "This consent was not accepted",
            "The consent did not come from the page this server showed you (its security token is missing or wrong). Nothing was granted. Start again from the application.",
        )
    };
    let (Some(request_handle), Some(csrf)) = (get("request"), get("csrf")) else {
        return forged();
    };
    if cookie(&headers, CSRF_COOKIE).as_deref() != Some(csrf) {
        return forged();
    }
    let now = (state.clock())();
    let id = secret::hash(request_handle);
    let request = match state.store().signin_request(&id, now).await {
        Ok(Some(request)) => request,
        Ok(None) => {
            refused(&state, "authorization_expired");
            return expired_page();
        }
        Err(err) => {
            tracing::warn!(cause = %err, "cannot read the authorization");
            return unavailable();
        }
    };
    let (Some(account_id), Some(email), Some(expected)) =
        (&request.account_id, &request.email, &request.csrf)
    else {
        return forged();
    };
    if secret::hash(csrf) != *expected {
        return forged();
    }
    match state.store().signin_request_end(&id, now).await {
        Ok(true) => {}
        Ok(false) => {
            refused(&state, "authorization_expired");
            return expired_page();
        }
        Err(err) => {
            tracing::warn!(cause = %err, "cannot end the authorization");
            return unavailable();
        }
    }
    let client_name = find_client(&state, signin, &request.client_id)
        .await
        .map(|c| c.name)
        .ok()
        .unwrap_or_else(|| request.client_id.clone());
    let mut response = if get("decision") != Some("allow") {
        refused(&state, "consent_denied");
        let back = redirect_error(
            &request.redirect_uri,
            request.state.as_deref(),
            &signin.issuer,
            "access_denied",
            "The person denied access.",
        );
        let location = back
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        pages::denied(&client_name, &location)
    } else {
        match grant(&state, signin, &request, account_id, email, now).await {
            Ok(response) => response,
            Err(err) => {
                tracing::warn!(cause = %err, "cannot store the grant");
                return unavailable();
            }
        }
    };
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{CSRF_COOKIE}=; Path=/oauth; HttpOnly; SameSite=Strict; Max-Age=0"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Allowed: the grant and its code, and the browser back to the client.
async fn grant(
    state: &AppState,
    signin: &SignIn,
    request: &RequestRow,
    account_id: &str,
    email: &str,
    now: i64,
) -> Result<Response, crate::store::StoreError> {
    let grant = GrantRow {
        id: uuid::Uuid::now_v7().to_string(),
        client_id: request.client_id.clone(),
        account_id: account_id.to_owned(),
        email: email.to_owned(),
        name: request.name.clone(),
        resource: request.resource.clone(),
        created_at_ms: now,
        last_used_at_ms: now,
        revoked_at_ms: None,
    };
    let code = secret::new(secret::CODE_PREFIX);
    state
        .store()
        .signin_grant_with_code(
            &grant,
            &CodeRow {
                hash: secret::hash(&code),
                grant_id: grant.id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                code_challenge: request.code_challenge.clone(),
                expires_at_ms: now.saturating_add(SignIn::ttl_ms(signin.config.authorization_ttl)),
            },
        )
        .await?;
    state.metrics().signed_in();
    tracing::info!(client = %grant.client_id, account = %grant.account_id, "signed in");
    Ok(back_to_client(
        &request.redirect_uri,
        &[("code", &code)],
        request.state.as_deref(),
        &signin.issuer,
    ))
}

/// A refused token request: invalid_grant for codes and refresh tokens
/// that are not (or no longer) good.
fn refused_grant(state: &AppState, why: Refused) -> Response {
    refused(state, format!("grant_{}", why.as_str()));
    let description = match why {
        Refused::Reused => {
            "This was used before: every token of its grant is revoked. Sign in again."
        }
        Refused::Expired => "It has expired. Sign in again.",
        Refused::Revoked => "Its grant was revoked. Sign in again.",
        Refused::Unknown => "It is not one this server issued.",
    };
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// `POST /oauth/token`: a code (with its PKCE verifier) or a refresh token
/// for a new access token and refresh token.
async fn token(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Some(signin) = signin(&state) else {
        return not_found();
    };
    let form = form(&body);
    let get = |name: &str| param(&form, name);
    let now = (state.clock())();
    let Some(client_id) = get("client_id") else {
        refused(&state, "client_missing");
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_id is required.",
        );
    };
    if let Some(resource) = get("resource")
        && !signin.is_ours(resource)
    {
        refused(&state, "foreign_resource");
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "The resource is not this server's MCP endpoint.",
        );
    }
    let grant = match get("grant_type") {
        Some("authorization_code") => {
            let (Some(code), Some(redirect_uri), Some(verifier)) =
                (get("code"), get("redirect_uri"), get("code_verifier"))
            else {
                refused(&state, "token_request_incomplete");
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "code, redirect_uri and code_verifier are required.",
                );
            };
            let (code, grant) = match state
                .store()
                .signin_code_redeem(&secret::hash(code), now)
                .await
            {
                Ok(Ok(found)) => found,
                Ok(Err(why)) => return refused_grant(&state, why),
                Err(err) => return store_failed(err),
            };
            if grant.client_id != client_id || code.redirect_uri != redirect_uri {
                refused(&state, "code_mismatch");
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The code was issued to another client or redirect URI.",
                );
            }
            if !secret::verifier_matches(verifier, &code.code_challenge) {
                refused(&state, "pkce_mismatch");
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The code_verifier does not match the code_challenge.",
                );
            }
            grant
        }
        Some("refresh_token") => {
            let Some(refresh) = get("refresh_token") else {
                refused(&state, "token_request_incomplete");
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required.",
                );
            };
            let grant = match state
                .store()
                .signin_refresh(&secret::hash(refresh), now)
                .await
            {
                Ok(Ok(grant)) => grant,
                Ok(Err(why)) => return refused_grant(&state, why),
                Err(err) => return store_failed(err),
            };
            if grant.client_id != client_id {
                refused(&state, "code_mismatch");
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The refresh token was issued to another client.",
                );
            }
            state.metrics().signin_refreshed();
            grant
        }
        _ => {
            refused(&state, "unsupported_grant_type");
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token.",
            );
        }
    };
    if !signin.is_ours(&grant.resource) {
        return refused_grant(&state, Refused::Unknown);
    }
    match issue_tokens(&state, signin, &grant.id, now).await {
        Ok(answer) => {
            let mut response = axum::Json(answer).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(err) => store_failed(err),
    }
}

fn store_failed(err: crate::store::StoreError) -> Response {
    tracing::warn!(cause = %err, "sign-in store failed");
    oauth_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "Try again in a minute.",
    )
}

async fn issue_tokens(
    state: &AppState,
    signin: &SignIn,
    grant_id: &str,
    now: i64,
) -> Result<Value, crate::store::StoreError> {
    let access = secret::new(secret::ACCESS_PREFIX);
    let refresh = secret::new(secret::REFRESH_PREFIX);
    let config = &signin.config;
    state
        .store()
        .signin_token_put(
            &secret::hash(&access),
            grant_id,
            TokenKind::Access,
            now.saturating_add(SignIn::ttl_ms(config.access_token_ttl)),
        )
        .await?;
    state
        .store()
        .signin_token_put(
            &secret::hash(&refresh),
            grant_id,
            TokenKind::Refresh,
            now.saturating_add(SignIn::ttl_ms(config.refresh_token_ttl)),
        )
        .await?;
    Ok(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": config.access_token_ttl.as_secs(),
        "refresh_token": refresh,
    }))
}

/// `POST /oauth/revoke` (RFC 7009): either token ends its whole grant.
/// Always `200`, whether the token was known or not.
async fn revoke(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    if signin(&state).is_none() {
        return not_found();
    }
    let form = form(&body);
    let Some(token) = form.get("token").filter(|t| !t.is_empty()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required.",
        );
    };
    let now = (state.clock())();
    match state
        .store()
        .signin_grant_of_token(&secret::hash(token))
        .await
    {
        Ok(Some(grant)) => {
            if let Err(err) = state.store().signin_revoke_grant(&grant, now).await {
                return store_failed(err);
            }
            tracing::info!(grant = %grant, "grant revoked by its client");
        }
        Ok(None) => {}
        Err(err) => return store_failed(err),
    }
    StatusCode::OK.into_response()
}

/// Who an access token speaks for, checked now: the middleware of `/mcp`
/// puts it in the request for the handler.
#[derive(Clone, Debug)]
pub struct SignedIn(pub GrantRow);

/// Checks a bearer token presented to `/mcp`.
pub async fn check_access(
    state: &AppState,
    signin: &SignIn,
    token: &str,
) -> Result<SignedIn, &'static str> {
    let now = (state.clock())();
    match state.store().signin_access(&secret::hash(token), now).await {
        Ok(Ok(grant)) if signin.is_ours(&grant.resource) => {
            if let Err(err) = state.store().signin_touch(&grant.id, now).await {
                tracing::warn!(cause = %err, "cannot note the grant's use");
            }
            Ok(SignedIn(grant))
        }
        Ok(Ok(_)) => Err("foreign_resource"),
        Ok(Err(why)) => Err(why.as_str()),
        Err(err) => {
            tracing::warn!(cause = %err, "cannot check the token");
            Err("store_unavailable")
        }
    }
}
