//! What every HTTP door reads the same way: the request id, the person a
//! header names, the idempotency key; and what it reports of a call's time.

use axum::http::HeaderMap;

use super::REQUEST_ID;
use crate::app::AppState;
use crate::tools::{self, Timing, identity};

/// The header a caller may send to name a request across its retries.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Counts what jira-action added to a call (its time minus Jira's).
pub fn observe_added(state: &AppState, route: &'static str, timing: &Timing) {
    state.metrics().request_added(route, timing.added);
}

/// `jira` (calls to Jira), `pause` (rate limit and retry back-off),
/// `store` (claims and the audit record) and `app` (everything but `jira`
/// and `pause`, so `store` included), in milliseconds as the header's
/// `dur` wants: an operator (or the benchmark) can tell Jira's latency
/// from jira-action's own without correlating logs.
pub fn server_timing(timing: &Timing) -> String {
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
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The person a header names: present once, one plain email address.
/// `shown` is the header's name as the message spells it.
pub fn person(headers: &HeaderMap, name: &str, shown: &str) -> Result<String, tools::Error> {
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
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, tools::Error> {
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
