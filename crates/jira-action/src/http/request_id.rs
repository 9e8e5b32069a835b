//! The client's `X-Request-Id` is kept only when it is a short token of
//! safe characters; anything else (15 KB of it, say, or control bytes) is
//! dropped before tower-http's `SetRequestIdLayer`, which then generates a
//! UUID that the response echoes. Each id ends up in the log span of every
//! line of its call and in audit records, so this bounds both.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::REQUEST_ID;
use crate::app::AppState;
use crate::throttle::Throttle;

/// The longest client request id kept.
pub const MAX_REQUEST_ID: usize = 128;

/// Logs a replaced id at most this often (with how many were since).
static REPLACED: Throttle = Throttle::new(Duration::from_secs(60));

/// Whether a client's request id is kept: 1 to 128 of `[A-Za-z0-9._:-]`.
pub fn acceptable(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

pub(super) async fn sanitize_request_id(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let values = request.headers().get_all(REQUEST_ID);
    let count = values.iter().count();
    let refused = count > 1 || values.iter().any(|v| !acceptable(v.as_bytes()));
    if refused {
        let longest = values.iter().map(|v| v.len()).max().unwrap_or_default();
        request.headers_mut().remove(REQUEST_ID);
        state.metrics().request_id_replaced();
        if let Some(since) = REPLACED.ready() {
            tracing::info!(
                values = count,
                longest_bytes = longest,
                replaced_since_last_line = since,
                "x-request-id replaced by a generated one (it must be 1 to {MAX_REQUEST_ID} of A-Z a-z 0-9 . _ : -)"
            );
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_short_safe_ids_only() {
        assert!(acceptable(b"req-1"));
        assert!(acceptable(b"0f8c2a1e-9b7d-4c3e-8a6f-5d4c3b2a1f0e"));
        assert!(acceptable(b"glean:trace_1.2"));
        assert!(acceptable(&[b'a'; MAX_REQUEST_ID]));
        assert!(!acceptable(&[b'a'; MAX_REQUEST_ID + 1]));
        assert!(!acceptable(b""));
        assert!(!acceptable(b"a b"));
        assert!(!acceptable(b"a\"b"));
        assert!(!acceptable("é".as_bytes()));
    }
}
