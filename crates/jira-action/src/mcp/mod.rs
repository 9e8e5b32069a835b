//! The MCP door: the same tools over the Model Context Protocol, at `/mcp`
//! (Streamable HTTP, on the server's listener) and on stdio
//! (`jira-action mcp`, for an assistant on a person's own machine).
//!
//! Built on the official SDK (rmcp). Every HTTP request is answered on its
//! own (stateless, JSON responses): nothing held in one process's memory
//! is needed to answer the next request, so several processes behind a
//! load balancer serve one client. Both the `initialize` handshake
//! (2025-06-18, 2025-11-25) and the stateless revision (2026-07-28) work.

mod access;
mod handler;

use std::sync::Arc;

use axum::Router;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

pub use access::ApiKeys;
pub use handler::{Handler, tool_list};

use crate::app::AppState;

/// The path of the endpoint.
pub const PATH: &str = "/mcp";

/// `/mcp` as a router to merge into the server's, or `None` when the
/// endpoint is off (passthrough mode: the caller's `Authorization` carries
/// the MCP key, so there is no Jira credential to use).
pub fn router<S: Clone + Send + Sync + 'static>(
    state: Arc<AppState>,
    public_url: &url::Url,
) -> Option<Router<S>> {
    if state.config().jira.credentials.is_passthrough() {
        tracing::warn!(
            "the MCP endpoint /mcp is off: it needs server-held Jira credentials (auth = api-token or oauth), and auth = passthrough"
        );
        return None;
    }
    if state.config().mcp.api_keys.is_empty() && state.signin().is_none() {
        tracing::warn!(
            "the MCP endpoint /mcp refuses every call: no API key is configured (mcp.api_keys or JIRA_ACTION_MCP_API_KEYS)"
        );
    }
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_allowed_hosts(allowed_hosts(&state, public_url))
        .with_allowed_origins(allowed_origins(&state, public_url))
        .enforce_origin_validation()
        .with_max_request_body_bytes(state.config().limits.max_body_bytes);
    let factory_state = Arc::clone(&state);
    let service = StreamableHttpService::new(
        move || Ok(Handler::http(Arc::clone(&factory_state))),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    let gate = Arc::new(access::Gate {
        keys: ApiKeys::new(&state.config().mcp.api_keys),
        state: Arc::clone(&state),
    });
    Some(
        Router::new()
            .nest_service(PATH, service)
            .layer(axum::middleware::from_fn_with_state(
                gate,
                access::require_key,
            )),
    )
}

/// The `Host`s a request may name: the public URL's host, and on a
/// loopback listener the loopback names, so a local setup works unset.
fn allowed_hosts(state: &AppState, public_url: &url::Url) -> Vec<String> {
    let mut hosts: Vec<String> = public_url.host_str().map(bare_host).into_iter().collect();
    if state.config().listen.ip().is_loopback() {
        hosts.extend(["localhost", "127.0.0.1", "::1"].map(str::to_owned));
    }
    hosts
}

/// The browser origins a request may come from: the public URL's, and on
/// a loopback listener loopback pages. Requests without `Origin` (most
/// clients that are not browsers) pass.
fn allowed_origins(state: &AppState, public_url: &url::Url) -> Vec<String> {
    let mut origins = vec![public_url.origin().ascii_serialization()];
    if state.config().listen.ip().is_loopback() {
        origins.extend(
            ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"].map(str::to_owned),
        );
    }
    origins
}

/// `[::1]` as a URL writes it is `::1` as the Host check compares it.
fn bare_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned()
}
