//! What the client tells its owner about each Jira call, so a server can
//! keep metrics without this crate depending on a metrics library.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::client::Call;

/// Jira's rate-limit headers from one answer. Every field is optional:
/// Jira sends them on some answers only (always on a 429).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateLimitInfo {
    /// `X-RateLimit-Limit`.
    pub limit: Option<u64>,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u64>,
    /// `X-RateLimit-NearLimit: true`: under 20% of the budget left.
    pub near_limit: Option<bool>,
    /// `RateLimit-Reason`: which limit was hit (on a 429).
    pub reason: Option<String>,
    /// `RateLimit` or, failing that, `Beta-RateLimit` (points-based limits,
    /// IETF draft form `"policy";r=<remaining>;t=<reset seconds>`).
    pub ratelimit: Option<String>,
    /// `RateLimit-Policy` or `Beta-RateLimit-Policy` (`"policy";q=<quota>;w=<window>`).
    pub policy: Option<String>,
    /// The `r=` of `ratelimit`: points left in the current window.
    pub points_remaining: Option<u64>,
    /// The `q=` of `policy`: points per window.
    pub points_quota: Option<u64>,
}

impl RateLimitInfo {
    pub fn from_headers(headers: &HeaderMap) -> RateLimitInfo {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let number = |name: &str| text(name).and_then(|v| v.parse::<u64>().ok());
        let ratelimit = text("ratelimit").or_else(|| text("beta-ratelimit"));
        let policy = text("ratelimit-policy").or_else(|| text("beta-ratelimit-policy"));
        RateLimitInfo {
            limit: number("x-ratelimit-limit"),
            remaining: number("x-ratelimit-remaining"),
            near_limit: text("x-ratelimit-nearlimit").map(|v| v.eq_ignore_ascii_case("true")),
            reason: text("ratelimit-reason"),
            points_remaining: ratelimit.as_deref().and_then(|v| parameter(v, "r")),
            points_quota: policy.as_deref().and_then(|v| parameter(v, "q")),
            ratelimit,
            policy,
        }
    }

    /// True when the answer carried any rate-limit header at all.
    pub fn is_empty(&self) -> bool {
        *self == RateLimitInfo::default()
    }

    /// The share of the budget left (0.0..=1.0), when Jira said enough to
    /// tell.
    pub fn headroom(&self) -> Option<f64> {
        let ratio = |left: u64, of: u64| (of > 0).then(|| (left as f64 / of as f64).min(1.0));
        match (self.remaining, self.limit) {
            (Some(left), Some(of)) => ratio(left, of),
            _ => match (self.points_remaining, self.points_quota) {
                (Some(left), Some(of)) => ratio(left, of),
                _ => None,
            },
        }
    }
}

/// `key=<number>` in a structured-field list such as
/// `"global";r=120;t=30`; the first one wins.
fn parameter(value: &str, key: &str) -> Option<u64> {
    value.split([';', ',']).find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        (k.trim() == key).then(|| v.trim().parse().ok())?
    })
}

/// One HTTP exchange with Jira.
#[derive(Clone, Debug)]
pub struct CallRecord {
    pub call: Call,
    /// 1 for the first try, 2 for the first retry, and so on.
    pub attempt: u32,
    /// Jira's status; `None` when no answer came (timeout, connection).
    pub status: Option<u16>,
    pub elapsed: Duration,
    pub rate_limit: RateLimitInfo,
}

/// Receives what the client does. Every method has an empty default, so
/// an observer implements only what it needs. Called inline: keep it cheap.
pub trait CallObserver: Send + Sync {
    /// After every HTTP exchange (retries included).
    fn on_call(&self, _record: &CallRecord) {}
    /// Before sleeping `wait` to retry `call` after `status` (`None`: no
    /// answer).
    fn on_retry(&self, _call: Call, _status: Option<u16>, _wait: Duration) {}
    /// The client-side limiter delayed a call by `wait`.
    fn on_throttle(&self, _call: Call, _wait: Duration) {}
    /// A call was given up because the request's retry budget ran out.
    fn on_budget_exhausted(&self, _call: Call) {}
}

/// A shareable observer, for [`ClientConfig`](crate::ClientConfig).
#[derive(Clone)]
pub struct Observer(pub Arc<dyn CallObserver>);

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn reads_every_rate_limit_header() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-limit", HeaderValue::from_static("350"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("35"));
        headers.insert("x-ratelimit-nearlimit", HeaderValue::from_static("true"));
        headers.insert(
            "ratelimit-reason",
            HeaderValue::from_static("jira-burst-based"),
        );
        headers.insert(
            "beta-ratelimit",
            HeaderValue::from_static("\"global-app\";r=120;t=30"),
        );
        headers.insert(
            "beta-ratelimit-policy",
            HeaderValue::from_static("\"global-app\";q=65000;w=3600"),
        );
        let info = RateLimitInfo::from_headers(&headers);
        assert_eq!(info.limit, Some(350));
        assert_eq!(info.remaining, Some(35));
        assert_eq!(info.near_limit, Some(true));
        assert_eq!(info.reason.as_deref(), Some("jira-burst-based"));
        assert_eq!(info.points_remaining, Some(120));
        assert_eq!(info.points_quota, Some(65000));
        assert_eq!(info.headroom(), Some(0.1));
        assert!(RateLimitInfo::from_headers(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn non_beta_headers_win_over_beta_ones() {
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit", HeaderValue::from_static("\"a\";r=5;t=1"));
        headers.insert("beta-ratelimit", HeaderValue::from_static("\"b\";r=9;t=1"));
        headers.insert(
            "ratelimit-policy",
            HeaderValue::from_static("\"a\";q=10;w=1"),
        );
        let info = RateLimitInfo::from_headers(&headers);
        assert_eq!(info.points_remaining, Some(5));
        assert_eq!(info.headroom(), Some(0.5));
    }
}
