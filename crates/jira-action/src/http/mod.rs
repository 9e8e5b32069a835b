//! Routes, middleware and the error type of the HTTP API.

mod create_issue;
mod error;
pub mod submit;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use error::Error;

use crate::app::AppState;

/// The header that carries each request's id, set when absent and echoed
/// in the response, so a person can quote it and an operator find it.
pub const REQUEST_ID: &str = "x-request-id";

pub fn router(state: Arc<AppState>) -> Router {
    let request_id = header::HeaderName::from_static(REQUEST_ID);
    let tools = Router::new()
        .route("/create_issue", post(create_issue::handle))
        // Layers run bottom-up: the concurrency cap first, then the
        // signature, before the body is read at all.
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            verify_signature,
        ))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            limit_concurrency,
        ));
    Router::new()
        .merge(tools)
        .route("/healthz", get(healthz))
        .route("/openapi.yaml", get(openapi_yaml))
        .route("/openapi.json", get(openapi_json))
        .route("/manifest.json", get(manifest))
        .fallback(|| async { Error::NotFound })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(middleware::from_fn(limit_header_size))
        // The extractor enforces the limit; the handler turns it into 413.
        .layer(DefaultBodyLimit::max(state.config.limits.max_body_bytes))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                // Only the method, path and request id: headers carry tokens.
                let id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", id, method = %request.method(), path = request.uri().path())
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// The most header bytes a request may carry (names and values). Glean
/// sends a handful of short headers; hyper's own limit is far larger.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

async fn limit_header_size(request: Request, next: Next) -> Response {
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if size > MAX_HEADER_BYTES {
        return Error::HeadersTooLarge(MAX_HEADER_BYTES).into_response();
    }
    next.run(request).await
}

/// Refuses (503) rather than queues past the configured number of requests
/// in progress: a queue would only make Glean's calls time out later.
async fn limit_concurrency(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    match Arc::clone(&state.in_flight).try_acquire_owned() {
        Ok(_permit) => next.run(request).await,
        Err(_) => Error::Overloaded.into_response(),
    }
}

/// Only Glean gets in: an unsigned or badly signed call is refused before
/// its body is read.
async fn verify_signature(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(verifier) = &state.verifier
        && let Err(reason) = verifier.verify(request.headers()).await
    {
        tracing::info!(%reason, "signature refused");
        return Error::InvalidSignature.into_response();
    }
    next.run(request).await
}

async fn healthz() -> &'static str {
    "ok"
}

async fn openapi_yaml(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/yaml"),
        )],
        state.openapi_yaml.clone(),
    )
        .into_response()
}

async fn openapi_json(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.openapi.clone()).into_response()
}

async fn manifest(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.manifest.clone()).into_response()
}
