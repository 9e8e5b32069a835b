//! Routes, middleware and the error type of the HTTP API.

mod create_issue;
mod deadline;
pub mod door;
mod error;
pub mod refusals;
mod request_id;

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::{BoxError, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use deadline::{CallDeadline, body_timed_out};
pub use error::{Error, ErrorCode};

use crate::app::AppState;

/// The header that carries each request's id, set when absent and echoed
/// in the response, so a person can quote it and an operator find it.
pub const REQUEST_ID: &str = "x-request-id";

/// The server's routes. `public_url` is where clients reach it (the MCP
/// endpoint checks `Host` and `Origin` against it).
pub fn router(state: Arc<AppState>, public_url: &url::Url) -> Router {
    let request_id = header::HeaderName::from_static(REQUEST_ID);
    let mcp = crate::mcp::router(Arc::clone(&state), public_url)
        .map(|mcp| {
            limit_concurrency(mcp, &state).route_layer(middleware::from_fn_with_state(
                Arc::clone(&state),
                deadline::body_deadline,
            ))
        })
        .unwrap_or_default();
    // Layers run bottom-up: the concurrency cap first, then the signature,
    // before the body is read at all.
    let tools = Router::new()
        .route("/create_issue", post(create_issue::handle))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            verify_signature,
        ));
    // Outermost: the body's deadline runs from the call's arrival.
    let tools = limit_concurrency(tools, &state).route_layer(middleware::from_fn_with_state(
        Arc::clone(&state),
        deadline::body_deadline,
    ));
    let signin = crate::signin::router(&state).unwrap_or_default();
    Router::new()
        .merge(tools)
        .merge(mcp)
        .merge(signin)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.yaml", get(openapi_yaml))
        .route("/openapi.json", get(openapi_json))
        .route("/manifest.json", get(manifest))
        .fallback(|| async { Error::NotFound })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(catch_panics())
        .layer(middleware::from_fn(limit_header_size))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), observe))
        // The extractor enforces the limit; the handler turns it into 413.
        .layer(DefaultBodyLimit::max(state.config().limits.max_body_bytes))
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
        // Before the id is set: an unsafe or overlong one is dropped, so a
        // generated one replaces it.
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            request_id::sanitize_request_id,
        ))
        .with_state(state)
}

/// A handler that panics answers `500 internal` (the usual JSON body) and
/// the panic is logged, instead of hyper dropping the connection.
fn catch_panics() -> CatchPanicLayer<fn(Box<dyn Any + Send + 'static>) -> Response> {
    CatchPanicLayer::custom(panicked as fn(Box<dyn Any + Send + 'static>) -> Response)
}

fn panicked(payload: Box<dyn Any + Send + 'static>) -> Response {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    // Bounded: a panic message may quote input.
    let message: String = message.chars().take(200).collect();
    tracing::error!(panic = %message, "handler panicked");
    Error::Tool(crate::tools::Error::Internal("handler panicked".into())).into_response()
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

/// Refuses (503 `overloaded`) rather than queues past the configured number
/// of requests in progress: a queue would only make Glean's calls time out
/// later. Both doors take their permits from the one semaphore in the app
/// state (which `/metrics` reads), so the limit spans them; load shedding
/// turns "no permit now" into the refusal.
fn limit_concurrency<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    state: &AppState,
) -> Router<S> {
    router.route_layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(|_: BoxError| async {
                Error::Overloaded
            }))
            .load_shed()
            .layer(GlobalConcurrencyLimitLayer::with_semaphore(Arc::clone(
                state.in_flight(),
            ))),
    )
}

/// Only Glean gets in: an unsigned or badly signed call is refused before
/// its body is read.
async fn verify_signature(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(verifier) = state.verifier()
        && let Err(reason) = verifier.verify(request.headers()).await
    {
        // Counted and audited in aggregate (see `refusals`), so a flood of
        // forged calls leaves a few rows and log lines, not one per call.
        let ended = state
            .refusals()
            .refused(state.metrics(), request.headers(), &reason);
        refusals::write(state.store(), ended).await;
        return Error::InvalidSignature.into_response();
    }
    next.run(request).await
}

/// Counts and times every request by route and outcome, and gives the
/// Jira calls it makes one retry budget between them, so that retries can
/// never keep a request past what Glean waits for.
async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "other".to_owned());
    let budget = state.config().jira.retry_budget;
    let response = jira::with_retry_budget(budget, next.run(request)).await;
    let status = response.status().as_u16();
    let code = response
        .extensions()
        .get::<error::ErrorCode>()
        .map(|c| c.0)
        .unwrap_or(if response.status().is_success() {
            "ok"
        } else {
            "other"
        });
    state
        .metrics()
        .request_answered(route.into(), status, code, started.elapsed());
    response
}

/// Prometheus text format; see the README's "Operating" section.
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let metrics = state.metrics();
    let total = state.config().limits.max_concurrent_requests;
    let in_flight = total.saturating_sub(state.in_flight().available_permits());
    metrics.set_in_flight(in_flight);
    let open = state
        .max_connections()
        .saturating_sub(state.connections().available_permits());
    metrics.set_open_connections(open);
    if let Some(tokens) = state.tokens() {
        if let Some(left) = tokens.seconds_to_expiry() {
            metrics.set_token_expiry(Duration::from_secs(left.max(0).unsigned_abs()));
        }
        metrics.set_reconsent_needed(tokens.reconsent_needed());
    }
    for (cache, lookups, misses) in state.resolver().stats.snapshot() {
        metrics.set_cache_requests(cache, lookups.saturating_sub(misses), misses);
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        metrics.render(),
    )
        .into_response()
}

/// Ready when Jira answers (with a valid token, when the server has one;
/// checked at most every 30 s) and the store is writable. `/healthz` is
/// the liveness probe and never asks Jira.
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    // `oauth` mode: the connection must yield a token (re-consent needed
    // or a failing refresh makes the server unready), and Jira is checked
    // with it.
    let (jira, oauth) = match state.tokens() {
        Some(tokens) => match tokens.access_token().await {
            Ok(token) => (
                state.jira().with_auth(jira::Auth::Bearer(token)),
                Some(None),
            ),
            Err(err) => (state.jira().clone(), Some(Some(err.to_string()))),
        },
        None => (state.jira().clone(), None),
    };
    let mut checks = state
        .readiness()
        .checks(&jira, state.config().jira.auth())
        .await;
    if let Some(problem) = oauth {
        checks.insert(
            0,
            crate::health::Check {
                name: "oauth",
                problem,
            },
        );
    }
    let ready = checks.iter().all(|c| c.problem.is_none());
    let mut body = serde_json::Map::new();
    for check in &checks {
        let value = match &check.problem {
            None => serde_json::Value::from("ok"),
            Some(problem) => serde_json::Value::from(problem.as_str()),
        };
        body.insert(check.name.to_owned(), value);
    }
    let status = if ready {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    let answer = serde_json::json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": body,
    });
    (status, axum::Json(answer)).into_response()
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
        state.openapi_yaml().to_owned(),
    )
        .into_response()
}

async fn openapi_json(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.openapi().clone()).into_response()
}

async fn manifest(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.manifest().clone()).into_response()
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use axum::body::{Body, to_bytes};
    use tower::ServiceExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_panicking_handler_answers_500_internal_and_is_logged() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let router: Router = Router::new()
            .route(
                "/boom",
                get(|| async {
                    if std::hint::black_box(true) {
                        panic!("boom in a handler");
                    }
                    "unreachable"
                }),
            )
            .layer(catch_panics());
        let request = Request::get("/boom").body(Body::empty()).expect("request");
        let response = router.oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), 500);
        let body = to_bytes(response.into_body(), 4096).await.expect("body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["error"], "internal");
        assert!(body["message"].is_string());
        let log = String::from_utf8(captured.0.lock().expect("log").clone()).expect("utf-8");
        assert!(log.contains("handler panicked"), "{log}");
        assert!(log.contains("boom in a handler"), "{log}");
    }
}
