//! `POST /create_issue`: Glean's door to the `create_issue` operation.
//! It reads what Glean sends (headers, a JSON body) into a core
//! [`Request`], and the core's answer into a response.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde_json::{Map, Value};

use super::{Error, REQUEST_ID};
use crate::app::AppState;
use crate::config::AuthMode;
use crate::glean::contract;
use crate::tools::{
    self, Authenticated, CreateIssue, Credentials, FrontDoor, Principal, Request, Timing, identity,
};

/// The header naming the person the issue is filed for.
pub const USER_EMAIL: &str = "glean-user-email";

/// The header a caller may send to name a request across its retries.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

pub async fn handle(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request = Request {
        door: FrontDoor::Glean,
        client: None,
        request_id: request_id(&headers),
        authenticated: match state.verifier.is_some() {
            true => Authenticated::GleanSignature,
            false => Authenticated::Unchecked,
        },
        principal: person(&headers, USER_EMAIL, "Glean-User-Email").map(Principal::Email),
        credentials: credentials(&state, &headers),
        idempotency_key: idempotency_key(&headers),
        arguments: arguments(&state, &headers, body),
    };
    let finished = tools::run::<CreateIssue>(Arc::clone(&state), request).await;
    let mut response = match finished.result {
        Ok(answer) => Json(answer).into_response(),
        Err(err) => Error::Tool(err).into_response(),
    };
    observe_added(&state, "/create_issue", &finished.timing);
    if let Ok(value) = HeaderValue::from_str(&server_timing(&finished.timing)) {
        response.headers_mut().insert("server-timing", value);
    }
    response
}

/// Counts what jira-action added to a call (its time minus Jira's).
pub(crate) fn observe_added(state: &AppState, route: &str, timing: &Timing) {
    state.metrics.observe(
        "jira_action_request_added_seconds",
        &[("route", route)],
        timing.added,
    );
}

/// `jira` (calls to Jira), `pause` (rate limit and retry back-off),
/// `store` (claims and the audit record) and `app` (everything but `jira`
/// and `pause`, so `store` included), in milliseconds as the header's
/// `dur` wants: an operator (or the benchmark) can tell Jira's latency
/// from jira-action's own without correlating logs.
pub(crate) fn server_timing(timing: &Timing) -> String {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    format!(
        "jira;dur={:.3}, pause;dur={:.3}, store;dur={:.3}, app;dur={:.3}",
        ms(timing.jira),
        ms(timing.pause),
        ms(timing.store),
        ms(timing.added)
    )
}

/// The request's id, as the request-id layer set or kept it.
pub(crate) fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The person a header names: present once, one plain email address.
/// `shown` is the header's name as the message spells it.
pub(crate) fn person(headers: &HeaderMap, name: &str, shown: &str) -> Result<String, tools::Error> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    let invalid = |reason: &str| tools::Error::InvalidUserEmail {
        header: shown.to_owned(),
        reason: reason.to_owned(),
    };
    if first.is_some() && values.next().is_some() {
        return Err(invalid("the header is repeated"));
    }
    let text = first
        .map(|value| value.to_str().map_err(|_| invalid("not ASCII")))
        .transpose()?;
    tools::parse_email(shown, text)
}

/// The `Idempotency-Key` header, if given: one printable ASCII token.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, tools::Error> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(identity::invalid_key("the header is repeated"));
    }
    let text = value
        .to_str()
        .map_err(|_| identity::invalid_key("not printable ASCII"))?;
    identity::parse_key(text).map(Some)
}

/// Passthrough mode forwards the caller's `Authorization`; the other
/// modes use the server's own credentials.
fn credentials(state: &AppState, headers: &HeaderMap) -> Credentials {
    if state.config.jira.auth != AuthMode::Passthrough {
        return Credentials::Server;
    }
    match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        Some(value) => Credentials::Forwarded(SecretString::from(value.to_owned())),
        None => Credentials::Missing,
    }
}

/// The body as the JSON object of the tool's arguments.
fn arguments(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Map<String, Value>, tools::Error> {
    check_content_type(headers)?;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            tools::Error::PayloadTooLarge(state.config.limits.max_body_bytes)
        } else {
            tools::Error::InvalidJson(rejection.body_text())
        }
    })?;
    contract::arguments(&body)
}

fn check_content_type(headers: &HeaderMap) -> Result<(), tools::Error> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(tools::Error::InvalidContentType)
    }
}
