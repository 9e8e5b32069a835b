//! Prometheus metrics through `prometheus-client`, kept per server (in
//! `AppState`): its registry is a value, so tests that start many servers
//! in one process each see their own numbers. Label sets are small typed
//! values (static strings, numbers), so counting a request allocates no
//! label text.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jira::{Call, CallObserver, CallRecord};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Seconds; from what the server adds to a request (under a millisecond)
/// to Glean's own timeout.
const BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0,
    30.0,
];

/// A Jira answer's status, or `none` when there was no answer.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct JiraStatus(Option<u16>);

impl EncodeLabelValue for JiraStatus {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        match self.0 {
            Some(status) => EncodeLabelValue::encode(&status, encoder),
            None => EncodeLabelValue::encode(&"none", encoder),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: Cow<'static, str>,
    status: u16,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: Cow<'static, str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: Cow<'static, str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointStatusLabels {
    endpoint: &'static str,
    status: JiraStatus,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolCallLabels {
    door: &'static str,
    tool: &'static str,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;
/// A gauge without labels that is exported only once it is known (what
/// Jira last said, the OAuth token), so that no one reads an unknown as 0.
type Known<G> = Family<[(&'static str, &'static str); 0], G>;
type FloatCounter = Counter<f64, AtomicU64>;
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The server's metrics. Cheap to update from any task.
pub struct Metrics {
    registry: Registry,
    open_connections: Gauge,
    connection_cap_reached: Counter,
    connections_closed: Family<ReasonLabels, Counter>,
    signature_refusals: Family<ReasonLabels, Counter>,
    request_ids_replaced: Counter,
    requests: Family<RequestLabels, Counter>,
    request_duration: Histograms<RouteLabels>,
    request_added: Histograms<RouteLabels>,
    jira_calls: Family<EndpointStatusLabels, Counter>,
    jira_call_duration: Histograms<EndpointLabels>,
    jira_retries: Family<EndpointStatusLabels, Counter>,
    jira_retry_budget_exhausted: Family<EndpointLabels, Counter>,
    jira_throttled: Family<EndpointLabels, Counter>,
    jira_throttle_wait: FloatCounter,
    jira_rate_limited: Family<ReasonLabels, Counter>,
    ratelimit_remaining: Known<Gauge>,
    ratelimit_limit: Known<Gauge>,
    ratelimit_near_limit: Known<Gauge>,
    ratelimit_points_remaining: Known<Gauge>,
    ratelimit_headroom: Known<FloatGauge>,
    cache_requests: Family<CacheLabels, Counter>,
    in_flight: Gauge,
    token_expiry: Known<Gauge>,
    reconsent_needed: Known<Gauge>,
    tool_calls: Family<ToolCallLabels, Counter>,
    duplicates: Counter,
    signins: Counter,
    signin_refreshes: Counter,
    signin_refusals: Family<ReasonLabels, Counter>,
}

/// Registers `metric` under `name` (without the `_total` that
/// prometheus-client adds to counters) and `help` (without the final
/// period it adds), and hands it back.
fn registered<M: prometheus_client::registry::Metric + Clone>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    metric: M,
) -> M {
    registry.register(name, help, metric.clone());
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let r = &mut registry;
        let mut metrics = Metrics {
            // In place once everything is registered in it.
            registry: Registry::default(),
            open_connections: registered(
                r,
                "jira_action_open_connections",
                "Client connections open (against limits.max_connections)",
                Gauge::default(),
            ),
            connection_cap_reached: registered(
                r,
                "jira_action_connection_cap_reached",
                "Times a new connection had to wait because limits.max_connections were open",
                Counter::default(),
            ),
            connections_closed: registered(
                r,
                "jira_action_connections_closed",
                "Connections the server closed, by reason (idle, header_timeout)",
                Family::default(),
            ),
            signature_refusals: registered(
                r,
                "jira_action_signature_refusals",
                "Calls refused for their Glean signature, by reason",
                Family::default(),
            ),
            request_ids_replaced: registered(
                r,
                "jira_action_request_ids_replaced",
                "X-Request-Id values refused (too long or unsafe characters) and replaced by a generated id",
                Counter::default(),
            ),
            requests: registered(
                r,
                "jira_action_requests",
                "HTTP requests answered, by route, status and error code (\"ok\" on success)",
                Family::default(),
            ),
            request_duration: registered(
                r,
                "jira_action_request_duration_seconds",
                "Time to answer a request, by route",
                Family::new_with_constructor(histogram as fn() -> Histogram),
            ),
            request_added: registered(
                r,
                "jira_action_request_added_seconds",
                "Time a request took minus its time in Jira calls and back-off: what jira-action adds, by route",
                Family::new_with_constructor(histogram as fn() -> Histogram),
            ),
            jira_calls: registered(
                r,
                "jira_action_jira_calls",
                "HTTP calls to Jira, retries included, by endpoint and status (\"none\": no answer)",
                Family::default(),
            ),
            jira_call_duration: registered(
                r,
                "jira_action_jira_call_duration_seconds",
                "Time of one HTTP call to Jira, by endpoint",
                Family::new_with_constructor(histogram as fn() -> Histogram),
            ),
            jira_retries: registered(
                r,
                "jira_action_jira_retries",
                "Jira calls retried, by endpoint and the status that caused it",
                Family::default(),
            ),
            jira_retry_budget_exhausted: registered(
                r,
                "jira_action_jira_retry_budget_exhausted",
                "Jira calls given up because the request's retry budget ran out, by endpoint",
                Family::default(),
            ),
            jira_throttled: registered(
                r,
                "jira_action_jira_throttled",
                "Jira calls delayed by the client-side rate limiter, by endpoint",
                Family::default(),
            ),
            jira_throttle_wait: registered(
                r,
                "jira_action_jira_throttle_wait_seconds",
                "Time spent waiting for the client-side rate limiter",
                FloatCounter::default(),
            ),
            jira_rate_limited: registered(
                r,
                "jira_action_jira_rate_limited",
                "429 answers from Jira, by RateLimit-Reason",
                Family::default(),
            ),
            ratelimit_remaining: registered(
                r,
                "jira_action_jira_ratelimit_remaining",
                "X-RateLimit-Remaining of the latest Jira answer that had it",
                Family::default(),
            ),
            ratelimit_limit: registered(
                r,
                "jira_action_jira_ratelimit_limit",
                "X-RateLimit-Limit of the latest Jira answer that had it",
                Family::default(),
            ),
            ratelimit_near_limit: registered(
                r,
                "jira_action_jira_ratelimit_near_limit",
                "1 when the latest Jira answer said X-RateLimit-NearLimit: true, else 0",
                Family::default(),
            ),
            ratelimit_points_remaining: registered(
                r,
                "jira_action_jira_ratelimit_points_remaining",
                "The r= of the latest RateLimit (or Beta-RateLimit) header",
                Family::default(),
            ),
            ratelimit_headroom: registered(
                r,
                "jira_action_jira_ratelimit_headroom_ratio",
                "Share of Jira's rate-limit budget left (0..1), when Jira said enough to tell",
                Family::default(),
            ),
            cache_requests: registered(
                r,
                "jira_action_cache_requests",
                "Lookups in the server's caches, by cache and result (hit or miss)",
                Family::default(),
            ),
            in_flight: registered(
                r,
                "jira_action_in_flight_requests",
                "Tool requests in progress",
                Gauge::default(),
            ),
            token_expiry: registered(
                r,
                "jira_action_token_expiry_seconds",
                "Seconds until the server's Jira access token expires (OAuth modes only)",
                Family::default(),
            ),
            reconsent_needed: registered(
                r,
                "jira_action_oauth_reconsent_needed",
                "1 when Atlassian refused the server's refresh token and an admin must run `jira-action oauth login` (oauth mode only)",
                Family::default(),
            ),
            tool_calls: registered(
                r,
                "jira_action_tool_calls",
                "Tool calls answered by the core, by front door (glean, mcp), tool and error code (\"ok\" on success)",
                Family::default(),
            ),
            duplicates: registered(
                r,
                "jira_action_duplicate_requests",
                "Repeated requests answered from the idempotency store instead of creating again",
                Counter::default(),
            ),
            signins: registered(
                r,
                "jira_action_signins",
                "People who signed in and allowed a client (grants given)",
                Counter::default(),
            ),
            signin_refreshes: registered(
                r,
                "jira_action_signin_refreshes",
                "Sign-in refresh tokens exchanged (each rotated)",
                Counter::default(),
            ),
            signin_refusals: registered(
                r,
                "jira_action_signin_refusals",
                "Sign-in steps and /mcp tokens refused, by reason",
                Family::default(),
            ),
        };
        let build_info: Family<VersionLabels, Gauge> = registered(
            r,
            "jira_action_build_info",
            "Always 1; the version is a label",
            Family::default(),
        );
        build_info
            .get_or_create(&VersionLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        metrics.registry = registry;
        metrics
    }
}

fn gauge_value(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Metrics {
    /// One HTTP request answered on `route`.
    pub fn request_answered(
        &self,
        route: Cow<'static, str>,
        status: u16,
        code: &'static str,
        took: Duration,
    ) {
        let duration = RouteLabels { route };
        self.request_duration
            .get_or_create(&duration)
            .observe(took.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                route: duration.route,
                status,
                code,
            })
            .inc();
    }

    /// What jira-action added to a request on `route` (its time minus
    /// Jira's and the back-off).
    pub fn request_added(&self, route: &'static str, added: Duration) {
        self.request_added
            .get_or_create(&RouteLabels {
                route: Cow::Borrowed(route),
            })
            .observe(added.as_secs_f64());
    }

    /// A tool call the core answered.
    pub fn tool_call(&self, door: &'static str, tool: &'static str, code: &'static str) {
        self.tool_calls
            .get_or_create(&ToolCallLabels { door, tool, code })
            .inc();
    }

    /// A call refused for its Glean signature.
    pub fn signature_refused(&self, reason: &'static str) {
        self.signature_refusals
            .get_or_create(&ReasonLabels {
                reason: Cow::Borrowed(reason),
            })
            .inc();
    }

    /// A person signed in and allowed a client (a grant given).
    pub fn signed_in(&self) {
        self.signins.inc();
    }

    /// A sign-in refresh token exchanged (and rotated).
    pub fn signin_refreshed(&self) {
        self.signin_refreshes.inc();
    }

    /// A sign-in step or an `/mcp` token refused, by reason.
    pub fn signin_refused(&self, reason: impl Into<Cow<'static, str>>) {
        self.signin_refusals
            .get_or_create(&ReasonLabels {
                reason: reason.into(),
            })
            .inc();
    }

    /// A connection the server closed.
    pub fn connection_closed(&self, reason: &'static str) {
        self.connections_closed
            .get_or_create(&ReasonLabels {
                reason: Cow::Borrowed(reason),
            })
            .inc();
    }

    /// A new connection waited because `limits.max_connections` were open.
    pub fn connection_cap_reached(&self) {
        self.connection_cap_reached.inc();
    }

    /// A caller's X-Request-Id was refused and replaced.
    pub fn request_id_replaced(&self) {
        self.request_ids_replaced.inc();
    }

    /// A request that repeated an earlier one and was answered from the
    /// store (for the idempotency layer to call).
    pub fn duplicate_absorbed(&self) {
        self.duplicates.inc();
    }

    /// The server's token lifetime (for an OAuth mode to call on refresh).
    pub fn set_token_expiry(&self, left: Duration) {
        self.token_expiry
            .get_or_create(&[])
            .set(gauge_value(left.as_secs()));
    }

    pub fn set_reconsent_needed(&self, needed: bool) {
        self.reconsent_needed
            .get_or_create(&[])
            .set(i64::from(needed));
    }

    pub fn set_in_flight(&self, requests: usize) {
        self.in_flight
            .set(i64::try_from(requests).unwrap_or(i64::MAX));
    }

    pub fn set_open_connections(&self, connections: usize) {
        self.open_connections
            .set(i64::try_from(connections).unwrap_or(i64::MAX));
    }

    /// A cache's lookups so far, as its own counters say.
    pub fn set_cache_requests(&self, cache: &'static str, hits: u64, misses: u64) {
        for (result, count) in [("hit", hits), ("miss", misses)] {
            self.cache_requests
                .get_or_create(&CacheLabels { cache, result })
                .inner()
                .store(count, Ordering::Relaxed);
        }
    }

    /// The current value of a series, `name` as exported (`_total` and
    /// all) and labels in their order (tests).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut series = name.to_owned();
        if !labels.is_empty() {
            let pairs: Vec<String> = labels
                .iter()
                .map(|(key, value)| format!("{key}=\"{value}\""))
                .collect();
            let _ = write!(series, "{{{}}}", pairs.join(","));
        }
        self.render().lines().find_map(|line| {
            line.strip_prefix(series.as_str())?
                .strip_prefix(' ')?
                .parse()
                .ok()
        })
    }

    /// The text exposition format (version 0.0.4), as `/metrics` serves
    /// it.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Err(err) =
            prometheus_client::encoding::text::encode_registry(&mut text, &self.registry)
        {
            tracing::error!(cause = %err, "cannot encode the metrics");
        }
        as_text_format(&text)
    }
}

/// prometheus-client writes OpenMetrics; `/metrics` serves the Prometheus
/// text format (0.0.4) it always has, and two differences matter there: a
/// counter's `# HELP` and `# TYPE` name the family as its samples do
/// (`…_total`), or Prometheus files the type and help under a name no
/// series has; and `le` comes last in a bucket's labels, as dashboards and
/// tests have matched it so far.
fn as_text_format(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::with_capacity(text.len() + 1024);
    for (i, line) in lines.iter().enumerate() {
        let counter = match line.strip_prefix("# HELP ") {
            Some(_) => lines.get(i + 1).and_then(|next| counter_family(next)),
            None => counter_family(line),
        };
        if let Some(name) = counter {
            let (kind, rest) = line.split_at("# TYPE ".len());
            let _ = writeln!(out, "{kind}{name}_total{}", &rest[name.len()..]);
        } else if let Some(bucket) = le_last(line) {
            out.push_str(&bucket);
            out.push('\n');
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The family a `# TYPE … counter` line names.
fn counter_family(line: &str) -> Option<&str> {
    line.strip_prefix("# TYPE ")?.strip_suffix(" counter")
}

/// `x_bucket{le="1.0",route="/a"} 3` as `x_bucket{route="/a",le="1.0"} 3`.
fn le_last(line: &str) -> Option<String> {
    let (name, rest) = line.split_once("_bucket{le=\"")?;
    let (le, rest) = rest.split_once('"')?;
    let (labels, value) = rest.strip_prefix(',')?.rsplit_once("} ")?;
    Some(format!("{name}_bucket{{{labels},le=\"{le}\"}} {value}"))
}

/// Jira calls, retries and rate-limit headers, as the client reports them.
impl CallObserver for Metrics {
    fn on_call(&self, record: &CallRecord) {
        let endpoint = record.call.name();
        self.jira_calls
            .get_or_create(&EndpointStatusLabels {
                endpoint,
                status: JiraStatus(record.status),
            })
            .inc();
        self.jira_call_duration
            .get_or_create(&EndpointLabels { endpoint })
            .observe(record.elapsed.as_secs_f64());
        let limits = &record.rate_limit;
        if record.status == Some(429) {
            let reason = limits.reason.as_deref().unwrap_or("unknown");
            self.jira_rate_limited
                .get_or_create(&ReasonLabels {
                    reason: Cow::Owned(reason.to_owned()),
                })
                .inc();
        }
        if let Some(v) = limits.remaining {
            self.ratelimit_remaining
                .get_or_create(&[])
                .set(gauge_value(v));
        }
        if let Some(v) = limits.limit {
            self.ratelimit_limit.get_or_create(&[]).set(gauge_value(v));
        }
        if let Some(near) = limits.near_limit {
            self.ratelimit_near_limit
                .get_or_create(&[])
                .set(i64::from(near));
        }
        if let Some(v) = limits.points_remaining {
            self.ratelimit_points_remaining
                .get_or_create(&[])
                .set(gauge_value(v));
        }
        if let Some(v) = limits.headroom() {
            self.ratelimit_headroom.get_or_create(&[]).set(v);
        }
    }

    fn on_retry(&self, call: Call, status: Option<u16>, _wait: Duration) {
        self.jira_retries
            .get_or_create(&EndpointStatusLabels {
                endpoint: call.name(),
                status: JiraStatus(status),
            })
            .inc();
    }

    fn on_throttle(&self, call: Call, wait: Duration) {
        self.jira_throttled
            .get_or_create(&EndpointLabels {
                endpoint: call.name(),
            })
            .inc();
        self.jira_throttle_wait.inc_by(wait.as_secs_f64());
    }

    fn on_budget_exhausted(&self, call: Call) {
        self.jira_retry_budget_exhausted
            .get_or_create(&EndpointLabels {
                endpoint: call.name(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_text_format() {
        let metrics = Metrics::default();
        metrics.request_answered("/create_issue".into(), 200, "ok", Duration::from_millis(30));
        metrics.set_cache_requests("a\"b", 1, 0);
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
