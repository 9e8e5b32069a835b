//! Routing, the front middleware (latency, URL forms, counting, faults,
//! authentication) and the pieces every handler shares: the request
//! context, Jira's error bodies and query parsing.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, RETRY_AFTER};
use http::{HeaderValue, StatusCode, Uri};
use serde_json::{Value, json};
use tower::Layer;

use crate::config::{CredentialKind, Flavor, Permission};
use crate::fault::{Endpoint, FaultKind};
use crate::handlers;
use crate::render::Base;
use crate::sim::{ConnAbort, Sim, read};
use crate::time;

/// Which URL form a request used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// `https://site/rest/api/3/...`: Basic or Bearer.
    Site,
    /// `https://api.atlassian.com/ex/jira/{cloudId}/rest/api/3/...`:
    /// Bearer only.
    Gateway,
}

/// Who is calling and with which permissions.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub(crate) account_id: String,
    permissions: u8,
    /// The project keys the project permissions apply to; `None`: all.
    projects: Option<Vec<String>>,
}

impl Caller {
    pub(crate) fn has(&self, permission: Permission) -> bool {
        self.permissions & permission.bit() != 0
    }

    /// Whether the caller may browse the project with this key.
    pub(crate) fn browses(&self, project_key: &str) -> bool {
        self.has(Permission::BrowseProjects)
            && self
                .projects
                .as_ref()
                .is_none_or(|keys| keys.iter().any(|k| k == project_key))
    }
}

/// What the front middleware tells the handlers.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    /// The base of `self` links: `http://host` or
    /// `http://host/ex/jira/{cloudId}`.
    pub(crate) base: String,
    /// `http://host`, whatever the form.
    pub(crate) host_base: String,
    pub(crate) caller: Caller,
    pub(crate) flavor: Flavor,
}

impl Ctx {
    /// The base of links, with the flavor's REST root.
    pub(crate) fn links(&self) -> Base<'_> {
        Base {
            site: &self.base,
            flavor: self.flavor,
        }
    }

    pub(crate) fn dc(&self) -> bool {
        self.flavor == Flavor::DataCenter
    }
}

/// The site's base URL (`http://host` plus any context path) for the
/// handlers that answer without authentication (`serverInfo`).
#[derive(Clone, Debug)]
pub(crate) struct SiteBase(pub(crate) String);

pub(crate) fn router(sim: Sim) -> Router {
    let api = Router::new()
        .route("/rest/api/3/issue", post(handlers::create::create_issue))
        .route("/rest/api/3/issue/{issue}", get(handlers::issue::get_issue))
        .route(
            "/rest/api/3/issue/{issue}/properties/{property}",
            get(handlers::issue::get_property),
        )
        .route(
            "/rest/api/3/issue/createmeta/{project}/issuetypes",
            get(handlers::meta::createmeta_issue_types),
        )
        .route(
            "/rest/api/3/issue/createmeta/{project}/issuetypes/{issuetype}",
            get(handlers::meta::createmeta_fields),
        )
        .route(
            "/rest/api/3/search/jql",
            get(handlers::issue::search_get).post(handlers::issue::search_post),
        )
        .route("/rest/api/3/user/search", get(handlers::users::user_search))
        .route(
            "/rest/api/3/users/search",
            get(handlers::users::users_search),
        )
        .route("/rest/api/3/myself", get(handlers::users::myself))
        .route(
            "/rest/api/3/mypermissions",
            get(handlers::meta::my_permissions),
        )
        .route(
            "/rest/api/3/project/search",
            get(handlers::meta::project_search),
        )
        .route(
            "/rest/api/3/project/{project}",
            get(handlers::meta::project),
        )
        .route(
            "/rest/api/3/project/{project}/components",
            get(handlers::meta::project_components),
        )
        .route("/rest/api/3/priority", get(handlers::meta::priorities))
        .route(
            "/rest/api/3/priority/search",
            get(handlers::meta::priority_search),
        )
        .route(
            "/oauth/token/accessible-resources",
            get(handlers::users::accessible_resources),
        )
        .route("/oauth/token", post(crate::oauth::token))
        .route("/rest/api/3/serverInfo", get(handlers::meta::server_info))
        // Data Center's v2 API (the front lets these through only in
        // Data Center mode, serverInfo excepted).
        .route("/rest/api/2/serverInfo", get(handlers::meta::server_info))
        .route("/rest/api/2/issue", post(handlers::create::create_issue))
        .route("/rest/api/2/issue/{issue}", get(handlers::issue::get_issue))
        .route(
            "/rest/api/2/issue/{issue}/properties/{property}",
            get(handlers::issue::get_property).put(handlers::issue::put_property),
        )
        .route(
            "/rest/api/2/issue/createmeta/{project}/issuetypes",
            get(handlers::meta::createmeta_issue_types),
        )
        .route(
            "/rest/api/2/issue/createmeta/{project}/issuetypes/{issuetype}",
            get(handlers::meta::createmeta_fields),
        )
        .route("/rest/api/2/search", get(handlers::issue::search_dc))
        .route(
            "/rest/api/2/user/search",
            get(handlers::users::user_search_dc),
        )
        .route("/rest/api/2/myself", get(handlers::users::myself))
        .route(
            "/rest/api/2/mypermissions",
            get(handlers::meta::my_permissions),
        )
        .route("/rest/api/2/project", get(handlers::meta::project_list))
        .route(
            "/rest/api/2/project/{project}",
            get(handlers::meta::project),
        )
        .route(
            "/rest/api/2/project/{project}/components",
            get(handlers::meta::project_components),
        )
        .route("/rest/api/2/priority", get(handlers::meta::priorities))
        .route(
            "/authorize",
            get(crate::oauth::authorize).post(crate::oauth::authorize_as),
        )
        .route("/me", get(crate::oauth::me))
        .fallback(not_found)
        .with_state(sim.clone());
    // The front runs before routing, so that it can strip the gateway
    // prefix and answer faults for any path.
    let front = middleware::from_fn_with_state(sim.clone(), front).layer(api);
    let front = middleware::from_fn_with_state(sim.clone(), extra_headers).layer(front);
    let site = Router::new()
        .route("/browse/{key}", get(browse).with_state(sim.clone()))
        .fallback_service(front);
    // The context path goes before routing, so that everything, the
    // browse page included, lives under it.
    let site = middleware::from_fn_with_state(sim, context_path).layer(site);
    Router::new().fallback_service(site)
}

/// Strips the context path (`/jira`); anything outside it is not the
/// application's: 404.
async fn context_path(State(sim): State<Sim>, mut req: Request, next: Next) -> Response {
    let Some(prefix) = sim.inner.context_path.as_deref() else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_owned();
    let rest = match path.strip_prefix(prefix) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => {
            sim.count(Endpoint::Other);
            return not_found_at(&path);
        }
    };
    let pq = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_owned(),
    };
    match Uri::builder().path_and_query(pq).build() {
        Ok(uri) => *req.uri_mut() = uri,
        Err(_) => {
            sim.count(Endpoint::Other);
            return not_found_at(&path);
        }
    }
    next.run(req).await
}

fn not_found_at(path: &str) -> Response {
    ApiError::new(StatusCode::NOT_FOUND)
        .message(format!("null for uri: {path}"))
        .into_response()
}

/// The page a `resultURL` opens in the sandbox: a plain view of the stored
/// issue, so a person trying the tool can follow the link. Not part of the
/// REST API: not counted, no authentication (the demo site is public).
async fn browse(State(sim): State<Sim>, Path(key): Path<String>) -> Response {
    let Some(issue) = sim.issue(&key) else {
        return (
            StatusCode::NOT_FOUND,
            format!("No issue {key} in the simulator.\n"),
        )
            .into_response();
    };
    let name = |account: Option<&str>| {
        account
            .and_then(|id| sim.user(id))
            .map(|user| user.display_name)
            .unwrap_or_else(|| "-".to_owned())
    };
    let (format, description) = match issue.description_text() {
        Some(wiki) => ("wiki markup", wiki.to_owned()),
        None => (
            "ADF",
            issue
                .description
                .as_ref()
                .and_then(|d| serde_json::to_string_pretty(d).ok())
                .unwrap_or_else(|| "-".to_owned()),
        ),
    };
    let text = format!(
        "{key}: {summary}\n\nproject:  {project}\ntype:     {issue_type}\npriority: {priority}\nreporter: {reporter}\nassignee: {assignee}\nlabels:   {labels}\n\ndescription ({format}):\n{description}\n",
        key = issue.key,
        summary = issue.summary,
        project = issue.project_key,
        issue_type = issue.issue_type_id,
        priority = issue.priority_id.as_deref().unwrap_or("-"),
        reporter = name(issue.reporter.as_deref()),
        assignee = name(issue.assignee.as_deref()),
        labels = issue.labels.join(", "),
    );
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

async fn not_found(req: Request) -> Response {
    let path = req.uri().path().to_owned();
    ApiError::new(StatusCode::NOT_FOUND)
        .message(format!("null for uri: {path}"))
        .into_response()
}

/// Latency, URL form, counting, faults and authentication, in that order.
/// Adds [`Sim::set_response_headers`]' headers to every REST answer.
async fn extra_headers(State(sim): State<Sim>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    for (name, value) in sim.response_headers() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Counts a request in progress while it lives (dropped or finished).
struct InProgress(Sim);

impl InProgress {
    fn start(sim: &Sim) -> InProgress {
        sim.inner.in_progress.fetch_add(1, Ordering::SeqCst);
        InProgress(sim.clone())
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.inner.in_progress.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn front(State(sim): State<Sim>, mut req: Request, next: Next) -> Response {
    let _in_progress = InProgress::start(&sim);
    let latency = sim.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("localhost")
        .to_owned();
    let host_base = format!(
        "http://{host}{}",
        sim.inner.context_path.as_deref().unwrap_or_default()
    );
    let flavor = sim.inner.flavor;

    let path = req.uri().path().to_owned();
    // Data Center serves its v2 API only: no v3, no OAuth gateway, no
    // Atlassian authorization server.
    if flavor == Flavor::DataCenter && !path.starts_with("/rest/api/2/") {
        sim.count(Endpoint::Other);
        return not_found_at(&path);
    }

    // URL form: strip `/ex/jira/{cloudId}`, which must be our cloud id.
    let (form, path) = match path.strip_prefix("/ex/jira/") {
        Some(rest) => {
            let (cloud_id, rest) = rest.split_once('/').unwrap_or((rest, ""));
            let rest = format!("/{rest}");
            if cloud_id != sim.inner.cloud_id || !rest.starts_with("/rest/") {
                sim.count(Endpoint::Other);
                return ApiError::new(StatusCode::NOT_FOUND)
                    .message(format!("null for uri: {path}"))
                    .into_response();
            }
            let pq = match req.uri().query() {
                Some(q) => format!("{rest}?{q}"),
                None => rest.clone(),
            };
            match Uri::builder().path_and_query(pq).build() {
                Ok(uri) => *req.uri_mut() = uri,
                Err(_) => {
                    sim.count(Endpoint::Other);
                    return ApiError::new(StatusCode::NOT_FOUND).into_response();
                }
            }
            (Form::Gateway, rest)
        }
        None => (Form::Site, path),
    };
    let base = match form {
        Form::Site => host_base.clone(),
        Form::Gateway => format!("{host_base}/ex/jira/{}", sim.inner.cloud_id),
    };

    let endpoint = Endpoint::classify(req.method(), &path, flavor);
    sim.count(endpoint);
    if flavor == Flavor::DataCenter && endpoint == Endpoint::Other {
        // No public v2 routes: Other is an unknown path or method.
        return not_found_at(&path);
    }

    let mut after = None;
    let mut apply_after = None;
    if let Some(fault) = sim.take_fault(endpoint) {
        match fault.kind {
            FaultKind::Status {
                status,
                retry_after,
                body,
            } => return fault_response(status, retry_after, body, form, flavor),
            FaultKind::Delay(d) => tokio::time::sleep(d).await,
            kind @ (FaultKind::ApplyThenDrop | FaultKind::ApplyThenDelay(_)) => after = Some(kind),
            FaultKind::DelayThenApply(d) => apply_after = Some(d),
        }
    }

    // Cloud keeps v2 off but for serverInfo, as before the Data Center
    // routes existed (after the faults, which applied to these paths as
    // to any other).
    if flavor == Flavor::Cloud && endpoint == Endpoint::Other && path.starts_with("/rest/api/2/") {
        return not_found_at(&path);
    }

    // The authorization server authenticates apps by client id and secret.
    let public = matches!(
        endpoint,
        Endpoint::Other | Endpoint::OAuthToken | Endpoint::Authorize
    );
    if endpoint == Endpoint::ServerInfo {
        // Jira answers serverInfo to anyone.
        req.extensions_mut().insert(SiteBase(match form {
            Form::Site => host_base,
            Form::Gateway => format!("{host_base}/ex/jira/{}", sim.inner.cloud_id),
        }));
    } else if flavor == Flavor::DataCenter {
        let Some(caller) = authenticate_dc(&sim, &req) else {
            return dc_unauthorized();
        };
        req.extensions_mut().insert(Ctx {
            base,
            host_base,
            caller,
            flavor,
        });
    } else if !public {
        let bearer_only = form == Form::Gateway || endpoint == Endpoint::AccessibleResources;
        let caller = match authenticate(&sim, &req, bearer_only) {
            Some(caller) => caller,
            None if bearer_only => return gateway_unauthorized(),
            None => return site_unauthorized(),
        };
        req.extensions_mut().insert(Ctx {
            base,
            host_base,
            caller,
            flavor,
        });
    }

    if let Some(delay) = apply_after {
        // In a task of its own, so that a client hanging up (which drops
        // this future) does not cancel the create.
        let still_applying = InProgress::start(&sim);
        let applying = tokio::spawn(async move {
            let _still_applying = still_applying;
            tokio::time::sleep(delay).await;
            next.run(req).await
        });
        return applying
            .await
            .unwrap_or_else(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR).into_response());
    }
    let abort = req.extensions().get::<ConnAbort>().cloned();
    let response = next.run(req).await;
    match after {
        Some(FaultKind::ApplyThenDelay(d)) => {
            tokio::time::sleep(d).await;
            response
        }
        Some(FaultKind::ApplyThenDrop) => match abort {
            Some(abort) => {
                abort.abort();
                // The connection task drops this future with the connection.
                std::future::pending::<Response>().await
            }
            None => failing_response(),
        },
        _ => response,
    }
}

/// Without the simulator's own connection loop the best available drop:
/// the body fails before anything is written, so hyper closes the
/// connection.
fn failing_response() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("jira-sim: connection dropped"))
    });
    Response::new(Body::from_stream(stream))
}

/// Resolves the `Authorization` header to an active account's credential.
fn authenticate(sim: &Sim, req: &Request, bearer_only: bool) -> Option<Caller> {
    let header = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, value) = header.trim().split_once(' ')?;
    let value = value.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        // An access token minted by the simulated authorization server acts
        // as the consenting account, with every permission.
        let minted = crate::sim::lock(&sim.inner.oauth)
            .account_for(value)
            .map(str::to_owned);
        if let Some(account_id) = minted {
            let world = read(&sim.inner.world);
            let user = world.directory.get(&account_id)?;
            return user.active.then(|| Caller {
                account_id,
                permissions: Permission::ALL.iter().fold(0, |acc, p| acc | p.bit()),
                projects: None,
            });
        }
    }
    let credentials = read(&sim.inner.credentials);
    let credential = if scheme.eq_ignore_ascii_case("bearer") {
        credentials.iter().find(|c| match &c.kind {
            CredentialKind::Bearer { token } => token == value,
            _ => false,
        })?
    } else if scheme.eq_ignore_ascii_case("basic") && !bearer_only {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (email, secret) = decoded.split_once(':')?;
        credentials.iter().find(|c| match &c.kind {
            CredentialKind::Basic { email: e, token } => {
                e.eq_ignore_ascii_case(email) && token == secret
            }
            _ => false,
        })?
    } else {
        return None;
    };
    let world = read(&sim.inner.world);
    let user = world.directory.get(&credential.account_id)?;
    if !user.active {
        return None;
    }
    Some(Caller {
        account_id: credential.account_id.clone(),
        permissions: credential
            .permissions
            .iter()
            .fold(0, |acc, p| acc | p.bit()),
        projects: credential.projects.clone(),
    })
}

/// Data Center: a personal access token as Bearer, or Basic
/// `username:password`, resolved to an active user by username. Cloud's
/// credentials do not exist there (nor Data Center's on Cloud).
fn authenticate_dc(sim: &Sim, req: &Request) -> Option<Caller> {
    let header = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, value) = header.trim().split_once(' ')?;
    let value = value.trim();
    let credentials = read(&sim.inner.credentials);
    let credential = if scheme.eq_ignore_ascii_case("bearer") {
        credentials.iter().find(|c| match &c.kind {
            CredentialKind::Pat { token } => token == value,
            _ => false,
        })?
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (username, secret) = decoded.split_once(':')?;
        credentials.iter().find(|c| match &c.kind {
            CredentialKind::Password {
                username: u,
                password,
            } => u.eq_ignore_ascii_case(username) && password == secret,
            _ => false,
        })?
    } else {
        return None;
    };
    let world = read(&sim.inner.world);
    let user = world.directory.by_name(credential.username.as_deref()?)?;
    if !user.active {
        return None;
    }
    Some(Caller {
        account_id: user.account_id.clone(),
        permissions: credential
            .permissions
            .iter()
            .fold(0, |acc, p| acc | p.bit()),
        projects: credential.projects.clone(),
    })
}

/// What Data Center answers bad or missing credentials on its REST API:
/// 401 with Jira's error body and Seraph's login-failure header.
fn dc_unauthorized() -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED)
        .message("You are not authenticated. Authentication required to perform this operation.")
        .into_response();
    response.headers_mut().insert(
        "www-authenticate",
        HeaderValue::from_static("Basic realm=\"protected-area\""),
    );
    response.headers_mut().insert(
        "x-seraph-loginreason",
        HeaderValue::from_static("AUTHENTICATED_FAILED"),
    );
    response
}

/// What a Jira site answers bad or missing credentials: plain text, not
/// the usual error body.
fn site_unauthorized() -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        [(CONTENT_TYPE, "text/plain;charset=UTF-8")],
        "Client must be authenticated to access this resource.",
    )
        .into_response();
    response.headers_mut().insert(
        "www-authenticate",
        HeaderValue::from_static("Basic realm=\"protected-area\""),
    );
    response.headers_mut().insert(
        "x-seraph-loginreason",
        HeaderValue::from_static("AUTHENTICATED_FAILED"),
    );
    response
}

/// What the OAuth gateway answers a bad or missing bearer token.
fn gateway_unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"code": 401, "message": "Unauthorized"})),
    )
        .into_response()
}

fn fault_response(
    status: u16,
    retry_after: Option<u64>,
    body: Option<Value>,
    form: Form,
    flavor: Flavor,
) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match body {
        Some(body) => (status, axum::Json(body)).into_response(),
        None if status == StatusCode::UNAUTHORIZED => match (flavor, form) {
            (Flavor::DataCenter, _) => dc_unauthorized(),
            (Flavor::Cloud, Form::Site) => site_unauthorized(),
            (Flavor::Cloud, Form::Gateway) => gateway_unauthorized(),
        },
        None => {
            let message = match status.as_u16() {
                429 => "Rate limit exceeded.".to_owned(),
                403 => "You do not have permission to perform this operation.".to_owned(),
                500 => "Internal server error.".to_owned(),
                503 => "Service unavailable. Please try again later.".to_owned(),
                _ => status.canonical_reason().unwrap_or("Error").to_owned(),
            };
            ApiError::new(status).message(message).into_response()
        }
    };
    let headers = response.headers_mut();
    if let Some(seconds) = retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    if status == StatusCode::TOO_MANY_REQUESTS && flavor == Flavor::DataCenter {
        // Data Center's token-bucket limiter (defaults: 10 per second,
        // bursts of 100) reports its bucket, not a reset time.
        headers.insert("x-ratelimit-limit", HeaderValue::from_static("100"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        headers.insert("x-ratelimit-fillrate", HeaderValue::from_static("10"));
        headers.insert(
            "x-ratelimit-interval-seconds",
            HeaderValue::from_static("1"),
        );
        if retry_after.is_none() {
            headers.insert(RETRY_AFTER, HeaderValue::from(1));
        }
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        let reset = time::now_ms() + i64::try_from(retry_after.unwrap_or(1)).unwrap_or(1) * 1000;
        headers.insert("x-ratelimit-limit", HeaderValue::from_static("350"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        if let Ok(v) = HeaderValue::from_str(&time::format_iso(reset)) {
            headers.insert("x-ratelimit-reset", v);
        }
        headers.insert(
            "ratelimit-reason",
            HeaderValue::from_static("jira-quota-tenant-based"),
        );
    }
    response
}

/// Jira's error body `{"errorMessages": [...], "errors": {...}}` with a
/// status.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) messages: Vec<String>,
    pub(crate) errors: BTreeMap<String, String>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode) -> ApiError {
        ApiError {
            status,
            messages: Vec::new(),
            errors: BTreeMap::new(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST).message(message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND).message(message)
    }

    pub(crate) fn message(mut self, message: impl Into<String>) -> ApiError {
        self.messages.push(message.into());
        self
    }

    pub(crate) fn fields(errors: BTreeMap<String, String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            messages: Vec::new(),
            errors,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({"errorMessages": self.messages, "errors": self.errors})),
        )
            .into_response()
    }
}

/// A JSON response with a status.
pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Query parameters in order, repeated keys kept (Jira accepts `fields`
/// several times); percent-decoded, `+` as space.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Query {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(k), decode(v))
            })
            .collect();
        Query(pairs)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable, comma-separated parameter.
    pub(crate) fn list(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// An integer parameter: `default` when absent, 400 when not an
    /// integer or negative.
    pub(crate) fn int(&self, key: &str, default: usize) -> Result<usize, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(default),
            Some(v) => v.trim().parse::<usize>().map_err(|_| {
                ApiError::bad_request(format!(
                    "The '{key}' parameter must be a non-negative integer."
                ))
            }),
        }
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = Query::parse(Some("query=a%40b.c+d&fields=x,y&fields=z&bad=%zz&end=%4"));
        assert_eq!(q.get("query"), Some("a@b.c d"));
        assert_eq!(q.list("fields"), vec!["x", "y", "z"]);
        assert_eq!(q.get("bad"), Some("%zz"));
        assert_eq!(q.get("end"), Some("%4"));
    }
}
