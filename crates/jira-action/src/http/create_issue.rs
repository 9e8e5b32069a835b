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

use super::Error;
use super::door::{idempotency_key, observe_added, person, request_id, server_timing};
use crate::app::AppState;
use crate::glean::contract;
use crate::tools::{self, Authenticated, CreateIssue, Credentials, FrontDoor, Principal, Request};

/// The header naming the person the issue is filed for.
pub const USER_EMAIL: &str = "glean-user-email";

pub async fn handle(
    State(state): State<Arc<AppState>>,
    deadline: Option<axum::Extension<super::CallDeadline>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request = Request {
        door: FrontDoor::Glean,
        client: None,
        request_id: request_id(&headers),
        authenticated: match state.verifier().is_some() {
            true => Authenticated::GleanSignature,
            false => Authenticated::Unchecked,
        },
        principal: person(&headers, USER_EMAIL, "Glean-User-Email").map(Principal::Email),
        credentials: credentials(&state, &headers),
        idempotency_key: idempotency_key(&headers),
        arguments: arguments(&state, &headers, body),
        deadline: deadline.map(|d| d.0.0),
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

/// Passthrough mode forwards the caller's `Authorization`; the other
/// modes use the server's own credentials.
fn credentials(state: &AppState, headers: &HeaderMap) -> Credentials {
    if !state.config().jira.credentials.is_passthrough() {
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
        if super::body_timed_out(&rejection) {
            tools::Error::BodyTimeout
        } else if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            tools::Error::PayloadTooLarge(state.config().limits.max_body_bytes)
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
