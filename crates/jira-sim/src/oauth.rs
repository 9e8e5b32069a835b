//! Atlassian's OAuth 2.0 (3LO) authorization server, simulated:
//! `GET /authorize` (consent is given at once, by a configured account;
//! for the user-consent scope `read:me` a sign-in page lets a person pick
//! a demo person, posted back to `POST /authorize`), `GET /me` (who a
//! `read:me` token belongs to),
//! `POST /oauth/token` with the `authorization_code` and `refresh_token`
//! grants. Refresh tokens rotate: each refresh answers a new one, the old
//! one may be reused for a short interval (Atlassian's leeway for retries)
//! and reusing it after that fails with `invalid_grant` and revokes the
//! whole family. Access tokens expire after a configurable lifetime (down
//! to seconds, for tests) and are accepted as Bearer tokens by the API.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::http::Query;
use crate::model::AccountType;
use crate::sim::{Sim, read};

/// An OAuth app registered with the simulated authorization server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Clone, Debug)]
pub struct OAuthConfig {
    pub clients: Vec<OAuthClient>,
    /// `expires_in` of access tokens (Atlassian: 3600 s).
    pub access_token_ttl: Duration,
    /// How long a rotated refresh token may still be used (Atlassian: 10
    /// minutes); after that, reuse is `invalid_grant`.
    pub refresh_reuse_interval: Duration,
    /// Whose consent `/authorize` records (the tokens act as this account).
    pub consent_account_id: String,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            clients: vec![OAuthClient {
                client_id: crate::demo::OAUTH_CLIENT_ID.to_owned(),
                client_secret: crate::demo::OAUTH_CLIENT_SECRET.to_owned(),
            }],
            access_token_ttl: Duration::from_secs(3600),
            refresh_reuse_interval: Duration::from_secs(600),
            consent_account_id: crate::demo::ADMIN_ACCOUNT_ID.to_owned(),
        }
    }
}

struct Code {
    client_id: String,
    redirect_uri: String,
    scope: String,
    account_id: String,
    expires_at: Instant,
}

struct Access {
    account_id: String,
    scope: String,
    expires_at: Instant,
}

struct Refresh {
    family: u64,
    client_id: String,
    account_id: String,
    scope: String,
    /// When it was first exchanged for a new one.
    rotated_at: Option<Instant>,
}

/// The authorization server's state.
#[derive(Default)]
pub(crate) struct OAuthState {
    codes: HashMap<String, Code>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
    revoked_families: HashSet<u64>,
    next: u64,
    /// Refresh grants answered (for tests: "exactly one refresh").
    pub(crate) refreshes: u64,
    /// How far tests moved the server's clock ahead of the real one.
    ahead: Duration,
}

impl OAuthState {
    fn mint(&mut self, prefix: &str) -> String {
        self.next += 1;
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(self.next);
        format!("{prefix}-{}-{:016x}", self.next, hasher.finish())
    }

    /// The authorization server's "now": real time, plus what tests moved.
    fn now(&self) -> Instant {
        Instant::now() + self.ahead
    }

    /// Moves the clock token, code and reuse lifetimes are judged by.
    pub(crate) fn advance(&mut self, by: Duration) {
        self.ahead += by;
    }

    /// The account an unexpired access token acts as.
    pub(crate) fn account_for(&self, token: &str) -> Option<&str> {
        self.access
            .get(token)
            .filter(|a| a.expires_at > self.now())
            .map(|a| a.account_id.as_str())
    }

    /// Ends every access token now (a token "expiring mid-run").
    pub(crate) fn expire_access_tokens(&mut self) {
        let now = self.now();
        for access in self.access.values_mut() {
            access.expires_at = now;
        }
    }

    fn issue_pair(
        &mut self,
        config: &OAuthConfig,
        family: Option<u64>,
        client_id: &str,
        account_id: &str,
        scope: &str,
    ) -> Value {
        let access_token = self.mint("sim-at");
        let expires_at = self.now() + config.access_token_ttl;
        self.access.insert(
            access_token.clone(),
            Access {
                account_id: account_id.to_owned(),
                scope: scope.to_owned(),
                expires_at,
            },
        );
        let mut body = json!({
            "access_token": access_token,
            "expires_in": config.access_token_ttl.as_secs(),
            "scope": scope,
            "token_type": "Bearer",
        });
        if scope.split_whitespace().any(|s| s == "offline_access") {
            let family = family.unwrap_or_else(|| {
                self.next += 1;
                self.next
            });
            let refresh_token = self.mint("sim-rt");
            self.refresh.insert(
                refresh_token.clone(),
                Refresh {
                    family,
                    client_id: client_id.to_owned(),
                    account_id: account_id.to_owned(),
                    scope: scope.to_owned(),
                    rotated_at: None,
                },
            );
            body["refresh_token"] = json!(refresh_token);
        }
        body
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// The parameters of an authorization request, carried through the
/// sign-in page's form.
const AUTHORIZE_PARAMS: [&str; 7] = [
    "audience",
    "client_id",
    "scope",
    "redirect_uri",
    "state",
    "response_type",
    "prompt",
];

/// Whether a scope asks for the person's own profile (user consent).
fn wants_person(scope: &str) -> bool {
    scope.split_whitespace().any(|s| s == "read:me")
}

/// `GET /authorize`: consent is given at once, by the configured account;
/// a `read:me` request shows the sign-in page instead, where a person
/// picks a demo person. Redirects to the `redirect_uri` with a code and
/// the caller's `state`.
pub(crate) async fn authorize(State(sim): State<Sim>, RawQuery(raw): RawQuery) -> Response {
    let query = Query::parse(raw.as_deref());
    if wants_person(query.get("scope").unwrap_or_default()) {
        return sign_in_page(&sim, &query);
    }
    let account = sim.inner.oauth_config.consent_account_id.clone();
    grant_code(&sim, &query, account)
}

/// `POST /authorize`: the sign-in page's form: the request's parameters
/// and the demo person picked.
pub(crate) async fn authorize_as(State(sim): State<Sim>, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body);
    let query = Query::parse(Some(&text));
    let account = query.get("account_id").unwrap_or_default().to_owned();
    let known = read(&sim.inner.world)
        .directory
        .get(&account)
        .is_some_and(|user| user.active);
    if !known || query.get("decision") != Some("accept") {
        // Atlassian sends the browser back with `access_denied`.
        let Ok(mut target) = url_with_query(query.get("redirect_uri").unwrap_or_default()) else {
            return (
                StatusCode::BAD_REQUEST,
                "redirect_uri must be an http(s) URL",
            )
                .into_response();
        };
        target.push_str(&format!(
            "error=access_denied&state={}",
            encode(query.get("state").unwrap_or_default())
        ));
        return Redirect::to(&target).into_response();
    }
    grant_code(&sim, &query, account)
}

/// The demo people a person may sign in as: the site's fixed people who
/// can sign in (active Atlassian accounts with an email).
fn demo_people(sim: &Sim) -> Vec<(String, String, String)> {
    read(&sim.inner.world)
        .directory
        .users()
        .iter()
        .take(crate::demo::FIXED_USERS)
        .filter(|u| u.active && u.account_type == AccountType::Atlassian)
        .filter_map(|u| {
            let email = u.email.clone()?;
            Some((u.account_id.clone(), u.display_name.clone(), email))
        })
        .collect()
}

/// Atlassian's sign-in and consent, simulated: pick a demo person, then
/// Accept or Cancel. Plain HTML, no JavaScript.
fn sign_in_page(sim: &Sim, query: &Query) -> Response {
    let mut hidden = String::new();
    for name in AUTHORIZE_PARAMS {
        if let Some(value) = query.get(name) {
            hidden.push_str(&format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">\n",
                escape(value)
            ));
        }
    }
    let mut people = String::new();
    for (i, (id, name, email)) in demo_people(sim).iter().enumerate() {
        people.push_str(&format!(
            "<label><input type=\"radio\" name=\"account_id\" value=\"{}\"{}> {} ({})</label><br>\n",
            escape(id),
            if i == 0 { " checked" } else { "" },
            escape(name),
            escape(email),
        ));
    }
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Log in to continue - Atlassian (simulated)</title></head><body>\n\
<h1>Log in to continue</h1>\n<p>This is the Jira simulator's stand-in for Atlassian's sign-in. Pick who you are:</p>\n\
<form method=\"post\" action=\"authorize\">\n{hidden}{people}\
<p>The app <strong>{client}</strong> asks to view your Atlassian account's profile (<code>read:me</code>).</p>\n\
<button type=\"submit\" name=\"decision\" value=\"accept\">Accept</button>\n\
<button type=\"submit\" name=\"decision\" value=\"cancel\">Cancel</button>\n</form>\n</body></html>\n",
        client = escape(query.get("client_id").unwrap_or_default()),
    );
    ([(CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `GET /me`: the profile of the account a `read:me` token acts as.
pub(crate) async fn me(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    let token = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let account = {
        let state = crate::sim::lock(&sim.inner.oauth);
        state
            .access
            .get(token)
            .filter(|a| a.expires_at > state.now() && wants_person(&a.scope))
            .map(|a| a.account_id.clone())
    };
    let user = account.and_then(|id| read(&sim.inner.world).directory.get(&id).cloned());
    let Some(user) = user else {
        return oauth_error(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized");
    };
    axum::Json(json!({
        "account_type": "atlassian",
        "account_id": user.account_id,
        "email": user.email,
        "name": user.display_name,
        "nickname": user.display_name,
        "account_status": if user.active { "active" } else { "inactive" },
    }))
    .into_response()
}

/// A code for `account` and the browser back to the `redirect_uri`.
fn grant_code(sim: &Sim, query: &Query, account_id: String) -> Response {
    let get = |k: &str| query.get(k).unwrap_or_default().to_owned();
    let (client_id, redirect_uri, scope) = (get("client_id"), get("redirect_uri"), get("scope"));
    if get("audience") != "api.atlassian.com" || get("response_type") != "code" {
        return (
            StatusCode::BAD_REQUEST,
            "audience=api.atlassian.com and response_type=code are required",
        )
            .into_response();
    }
    let config = &sim.inner.oauth_config;
    if !config.clients.iter().any(|c| c.client_id == client_id) {
        return (StatusCode::BAD_REQUEST, "unknown client_id").into_response();
    }
    let Ok(mut target) = url_with_query(&redirect_uri) else {
        return (
            StatusCode::BAD_REQUEST,
            "redirect_uri must be an http(s) URL",
        )
            .into_response();
    };
    let mut state = crate::sim::lock(&sim.inner.oauth);
    let code = state.mint("sim-code");
    let expires_at = state.now() + Duration::from_secs(600);
    state.codes.insert(
        code.clone(),
        Code {
            client_id,
            redirect_uri,
            scope,
            account_id,
            expires_at,
        },
    );
    target.push_str(&format!("code={code}&state={}", encode(&get("state"))));
    Redirect::to(&target).into_response()
}

fn url_with_query(uri: &str) -> Result<String, ()> {
    if !(uri.starts_with("http://") || uri.starts_with("https://")) {
        return Err(());
    }
    Ok(if uri.contains('?') {
        format!("{uri}&")
    } else {
        format!("{uri}?")
    })
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `POST /oauth/token`, JSON (as Atlassian documents) or form-encoded.
pub(crate) async fn token(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let params: HashMap<String, String> = if form {
        let text = String::from_utf8_lossy(&body);
        let query = Query::parse(Some(&text));
        [
            "grant_type",
            "client_id",
            "client_secret",
            "code",
            "redirect_uri",
            "refresh_token",
        ]
        .iter()
        .filter_map(|k| query.get(k).map(|v| ((*k).to_owned(), v.to_owned())))
        .collect()
    } else {
        match serde_json::from_slice::<HashMap<String, Value>>(&body) {
            Ok(map) => map
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
                .collect(),
            Err(_) => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Malformed body.",
                );
            }
        }
    };
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
    let config = &sim.inner.oauth_config;
    let client_ok = config
        .clients
        .iter()
        .any(|c| c.client_id == get("client_id") && c.client_secret == get("client_secret"));
    if !client_ok {
        return oauth_error(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized");
    }
    let mut state = crate::sim::lock(&sim.inner.oauth);
    match get("grant_type") {
        "authorization_code" => {
            let Some(code) = state.codes.remove(get("code")) else {
                return oauth_error(
                    StatusCode::FORBIDDEN,
                    "invalid_grant",
                    "Invalid authorization code",
                );
            };
            if code.expires_at <= state.now()
                || code.client_id != get("client_id")
                || code.redirect_uri != get("redirect_uri")
            {
                return oauth_error(
                    StatusCode::FORBIDDEN,
                    "invalid_grant",
                    "Invalid authorization code",
                );
            }
            let body =
                state.issue_pair(config, None, &code.client_id, &code.account_id, &code.scope);
            axum::Json(body).into_response()
        }
        "refresh_token" => {
            let now = state.now();
            let presented = get("refresh_token");
            let Some(refresh) = state.refresh.get(presented) else {
                return oauth_error(
                    StatusCode::FORBIDDEN,
                    "invalid_grant",
                    "Unknown or invalid refresh token.",
                );
            };
            let family = refresh.family;
            let reuse_expired = refresh
                .rotated_at
                .is_some_and(|at| now.duration_since(at) > config.refresh_reuse_interval);
            if state.revoked_families.contains(&family) || refresh.client_id != get("client_id") {
                return oauth_error(
                    StatusCode::FORBIDDEN,
                    "invalid_grant",
                    "Unknown or invalid refresh token.",
                );
            }
            if reuse_expired {
                // Reuse after the leeway looks like a stolen token: revoke
                // the family, as Atlassian does.
                state.revoked_families.insert(family);
                return oauth_error(
                    StatusCode::FORBIDDEN,
                    "invalid_grant",
                    "Unknown or invalid refresh token.",
                );
            }
            let (client_id, account_id, scope) = (
                refresh.client_id.clone(),
                refresh.account_id.clone(),
                refresh.scope.clone(),
            );
            if let Some(refresh) = state.refresh.get_mut(presented) {
                refresh.rotated_at.get_or_insert(now);
            }
            state.refreshes += 1;
            let body = state.issue_pair(config, Some(family), &client_id, &account_id, &scope);
            axum::Json(body).into_response()
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type.",
        ),
    }
}
