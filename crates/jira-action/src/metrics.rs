//! Prometheus metrics, kept per server (in `AppState`) rather than in a
//! process-wide recorder: tests start many servers in one process and each
//! must see its own numbers, and the set of series is small and fixed, so
//! a few maps behind a mutex cost less than a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use jira::{Call, CallObserver, CallRecord};

/// Seconds; from what the server adds to a request (under a millisecond)
/// to Glean's own timeout.
const BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0,
    30.0,
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every metric this server exports: name, type, help.
const FAMILIES: &[(&str, Kind, &str)] = &[
    (
        "jira_action_open_connections",
        Kind::Gauge,
        "Client connections open (against limits.max_connections).",
    ),
    (
        "jira_action_connection_cap_reached_total",
        Kind::Counter,
        "Times a new connection had to wait because limits.max_connections were open.",
    ),
    (
        "jira_action_connections_closed_total",
        Kind::Counter,
        "Connections the server closed, by reason (idle, header_timeout).",
    ),
    (
        "jira_action_signature_refusals_total",
        Kind::Counter,
        "Calls refused for their Glean signature, by reason.",
    ),
    (
        "jira_action_request_ids_replaced_total",
        Kind::Counter,
        "X-Request-Id values refused (too long or unsafe characters) and replaced by a generated id.",
    ),
    (
        "jira_action_requests_total",
        Kind::Counter,
        "HTTP requests answered, by route, status and error code (\"ok\" on success).",
    ),
    (
        "jira_action_request_duration_seconds",
        Kind::Histogram,
        "Time to answer a request, by route.",
    ),
    (
        "jira_action_request_added_seconds",
        Kind::Histogram,
        "Time a request took minus its time in Jira calls and back-off: what jira-action adds, by route.",
    ),
    (
        "jira_action_jira_calls_total",
        Kind::Counter,
        "HTTP calls to Jira, retries included, by endpoint and status (\"none\": no answer).",
    ),
    (
        "jira_action_jira_call_duration_seconds",
        Kind::Histogram,
        "Time of one HTTP call to Jira, by endpoint.",
    ),
    (
        "jira_action_jira_retries_total",
        Kind::Counter,
        "Jira calls retried, by endpoint and the status that caused it.",
    ),
    (
        "jira_action_jira_retry_budget_exhausted_total",
        Kind::Counter,
        "Jira calls given up because the request's retry budget ran out, by endpoint.",
    ),
    (
        "jira_action_jira_throttled_total",
        Kind::Counter,
        "Jira calls delayed by the client-side rate limiter, by endpoint.",
    ),
    (
        "jira_action_jira_throttle_wait_seconds_total",
        Kind::Counter,
        "Time spent waiting for the client-side rate limiter.",
    ),
    (
        "jira_action_jira_rate_limited_total",
        Kind::Counter,
        "429 answers from Jira, by RateLimit-Reason.",
    ),
    (
        "jira_action_jira_ratelimit_remaining",
        Kind::Gauge,
        "X-RateLimit-Remaining of the latest Jira answer that had it.",
    ),
    (
        "jira_action_jira_ratelimit_limit",
        Kind::Gauge,
        "X-RateLimit-Limit of the latest Jira answer that had it.",
    ),
    (
        "jira_action_jira_ratelimit_near_limit",
        Kind::Gauge,
        "1 when the latest Jira answer said X-RateLimit-NearLimit: true, else 0.",
    ),
    (
        "jira_action_jira_ratelimit_points_remaining",
        Kind::Gauge,
        "The r= of the latest RateLimit (or Beta-RateLimit) header.",
    ),
    (
        "jira_action_jira_ratelimit_headroom_ratio",
        Kind::Gauge,
        "Share of Jira's rate-limit budget left (0..1), when Jira said enough to tell.",
    ),
    (
        "jira_action_cache_requests_total",
        Kind::Counter,
        "Lookups in the server's caches, by cache and result (hit or miss).",
    ),
    (
        "jira_action_in_flight_requests",
        Kind::Gauge,
        "Tool requests in progress.",
    ),
    (
        "jira_action_token_expiry_seconds",
        Kind::Gauge,
        "Seconds until the server's Jira access token expires (OAuth modes only).",
    ),
    (
        "jira_action_oauth_reconsent_needed",
        Kind::Gauge,
        "1 when Atlassian refused the server's refresh token and an admin must run `jira-action oauth login` (oauth mode only).",
    ),
    (
        "jira_action_tool_calls_total",
        Kind::Counter,
        "Tool calls answered by the core, by front door (glean, mcp), tool and error code (\"ok\" on success).",
    ),
    (
        "jira_action_duplicate_requests_total",
        Kind::Counter,
        "Repeated requests answered from the idempotency store instead of creating again.",
    ),
    // Sign-in for /mcp (OAuth 2.1).
    (
        "jira_action_signins_total",
        Kind::Counter,
        "People who signed in and allowed a client (grants given).",
    ),
    (
        "jira_action_signin_refreshes_total",
        Kind::Counter,
        "Sign-in refresh tokens exchanged (each rotated).",
    ),
    (
        "jira_action_signin_refusals_total",
        Kind::Counter,
        "Sign-in steps and /mcp tokens refused, by reason.",
    ),
    (
        "jira_action_build_info",
        Kind::Gauge,
        "Always 1; the version is a label.",
    ),
];

#[derive(Clone)]
enum Value {
    Scalar(f64),
    Histogram {
        counts: [u64; BUCKETS.len()],
        sum: f64,
        count: u64,
    },
}

/// Series by family, then by rendered label set (`a="x",b="y"`).
type Series = BTreeMap<&'static str, BTreeMap<String, Value>>;

/// The server's metrics. Cheap to update from any task.
pub struct Metrics {
    series: Mutex<Series>,
}

impl Default for Metrics {
    fn default() -> Self {
        let metrics = Metrics {
            series: Mutex::new(BTreeMap::new()),
        };
        metrics.set(
            "jira_action_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1.0,
        );
        metrics
    }
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Series) -> R) -> R {
        let mut series = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut series)
    }

    /// Adds `by` to a counter.
    pub fn add(&self, name: &'static str, labels: &[(&str, &str)], by: f64) {
        let key = render_labels(labels);
        self.with(|series| {
            let value = series
                .entry(name)
                .or_default()
                .entry(key)
                .or_insert(Value::Scalar(0.0));
            if let Value::Scalar(v) = value {
                *v += by;
            }
        });
    }

    pub fn inc(&self, name: &'static str, labels: &[(&str, &str)]) {
        self.add(name, labels, 1.0);
    }

    /// Sets a gauge.
    pub fn set(&self, name: &'static str, labels: &[(&str, &str)], to: f64) {
        let key = render_labels(labels);
        self.with(|series| {
            series
                .entry(name)
                .or_default()
                .insert(key, Value::Scalar(to));
        });
    }

    /// Records one observation (seconds) in a histogram.
    pub fn observe(&self, name: &'static str, labels: &[(&str, &str)], elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let key = render_labels(labels);
        self.with(|series| {
            let value = series
                .entry(name)
                .or_default()
                .entry(key)
                .or_insert(Value::Histogram {
                    counts: [0; BUCKETS.len()],
                    sum: 0.0,
                    count: 0,
                });
            if let Value::Histogram { counts, sum, count } = value {
                for (bucket, n) in BUCKETS.iter().zip(counts.iter_mut()) {
                    if secs <= *bucket {
                        *n += 1;
                    }
                }
                *sum += secs;
                *count += 1;
            }
        });
    }

    /// A request that repeated an earlier one and was answered from the
    /// store (for the idempotency layer to call).
    pub fn duplicate_absorbed(&self) {
        self.inc("jira_action_duplicate_requests_total", &[]);
    }

    /// The server's token lifetime (for an OAuth mode to call on refresh).
    pub fn set_token_expiry(&self, left: Duration) {
        self.set("jira_action_token_expiry_seconds", &[], left.as_secs_f64());
    }

    /// The current value of a counter or gauge (tests, `doctor`).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let key = render_labels(labels);
        self.with(|series| match series.get(name)?.get(&key)? {
            Value::Scalar(v) => Some(*v),
            Value::Histogram { count, .. } => Some(*count as f64),
        })
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let series = self.with(|series| series.clone());
        let mut out = String::new();
        for (name, kind, help) in FAMILIES {
            let Some(family) = series.get(name) else {
                continue;
            };
            let kind_name = match kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram => "histogram",
            };
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind_name}");
            for (labels, value) in family {
                match value {
                    Value::Scalar(v) => {
                        let _ = writeln!(out, "{name}{} {}", braces(labels), number(*v));
                    }
                    Value::Histogram { counts, sum, count } => {
                        let sep = if labels.is_empty() { "" } else { "," };
                        for (bucket, n) in BUCKETS.iter().zip(counts) {
                            let _ =
                                writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bucket}\"}} {n}");
                        }
                        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
                        let _ = writeln!(out, "{name}_sum{} {}", braces(labels), number(*sum));
                        let _ = writeln!(out, "{name}_count{} {count}", braces(labels));
                    }
                }
            }
        }
        out
    }
}

/// Jira calls, retries and rate-limit headers, as the client reports them.
impl CallObserver for Metrics {
    fn on_call(&self, record: &CallRecord) {
        let endpoint = record.call.name();
        let status = record
            .status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "none".to_owned());
        self.inc(
            "jira_action_jira_calls_total",
            &[("endpoint", endpoint), ("status", &status)],
        );
        self.observe(
            "jira_action_jira_call_duration_seconds",
            &[("endpoint", endpoint)],
            record.elapsed,
        );
        let limits = &record.rate_limit;
        if record.status == Some(429) {
            let reason = limits.reason.as_deref().unwrap_or("unknown");
            self.inc("jira_action_jira_rate_limited_total", &[("reason", reason)]);
        }
        if let Some(v) = limits.remaining {
            self.set("jira_action_jira_ratelimit_remaining", &[], v as f64);
        }
        if let Some(v) = limits.limit {
            self.set("jira_action_jira_ratelimit_limit", &[], v as f64);
        }
        if let Some(near) = limits.near_limit {
            let v = if near { 1.0 } else { 0.0 };
            self.set("jira_action_jira_ratelimit_near_limit", &[], v);
        }
        if let Some(v) = limits.points_remaining {
            self.set("jira_action_jira_ratelimit_points_remaining", &[], v as f64);
        }
        if let Some(v) = limits.headroom() {
            self.set("jira_action_jira_ratelimit_headroom_ratio", &[], v);
        }
    }

    fn on_retry(&self, call: Call, status: Option<u16>, _wait: Duration) {
        let status = status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "none".to_owned());
        self.inc(
            "jira_action_jira_retries_total",
            &[("endpoint", call.name()), ("status", &status)],
        );
    }

    fn on_throttle(&self, call: Call, wait: Duration) {
        self.inc(
            "jira_action_jira_throttled_total",
            &[("endpoint", call.name())],
        );
        self.add(
            "jira_action_jira_throttle_wait_seconds_total",
            &[],
            wait.as_secs_f64(),
        );
    }

    fn on_budget_exhausted(&self, call: Call) {
        self.inc(
            "jira_action_jira_retry_budget_exhausted_total",
            &[("endpoint", call.name())],
        );
    }
}

fn render_labels(labels: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{name}=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out
}

fn braces(labels: &str) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    }
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_text_format() {
        let metrics = Metrics::default();
        metrics.inc(
            "jira_action_requests_total",
            &[
                ("route", "/create_issue"),
                ("status", "200"),
                ("code", "ok"),
            ],
        );
        metrics.inc(
            "jira_action_cache_requests_total",
            &[("cache", "a\"b"), ("result", "hit")],
        );
        metrics.observe(
            "jira_action_request_duration_seconds",
            &[("route", "/create_issue")],
            Duration::from_millis(30),
        );
        let text = metrics.render();
        assert!(text.contains("# TYPE jira_action_requests_total counter\n"));
        assert!(text.contains(
            "jira_action_requests_total{route=\"/create_issue\",status=\"200\",code=\"ok\"} 1\n"
        ));
        assert!(text.contains("cache=\"a\\\"b\""));
        assert!(text.contains(
            "jira_action_request_duration_seconds_bucket{route=\"/create_issue\",le=\"0.025\"} 0\n"
        ));
        assert!(text.contains(
            "jira_action_request_duration_seconds_bucket{route=\"/create_issue\",le=\"0.05\"} 1\n"
        ));
        assert!(
            text.contains(
                "jira_action_request_duration_seconds_count{route=\"/create_issue\"} 1\n"
            )
        );
        assert!(text.contains("jira_action_build_info{version="));
    }
}
