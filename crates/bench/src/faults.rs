//! `--faults`: what the simulator injects during the run, and the
//! invariants checked afterwards against the simulator's own record.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jira_sim::{CredentialKind, Endpoint, Fault, FaultKind, Flavor, Sim, demo};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::load::{Load, Outcome};
use crate::simserve::MARKER;

/// The server's Jira timeout under `--faults`: short, so "slower than the
/// timeout" costs little.
pub const JIRA_TIMEOUT_MS: u64 = 1000;

/// `jira.outcome_settle_ms` under `--faults`: a create Jira commits
/// [`SLOW_COMMIT_MS`] after it was sent is there, and searchable, by then.
pub const SETTLE_MS: u64 = 2500;

/// How long after it was sent a slow-commit create is applied: after the
/// client's timeout, and after the same-request lookup gave up.
const SLOW_COMMIT_MS: u64 = JIRA_TIMEOUT_MS + 1500;

/// `limits.request_timeout_ms` under `--faults`: a stalled body is
/// answered 408 this long after its headers.
pub const REQUEST_TIMEOUT_MS: u64 = 6000;

/// `limits.header_read_timeout_ms` under `--faults`: stalled headers close
/// the connection this long after their first byte.
pub const HEADER_TIMEOUT_MS: u64 = 2000;

/// In the summary of a slow client's (never complete) request: no issue
/// may carry it.
const SLOW_MARKER: &str = "slow-client-";

/// What an `--auth oauth` run needs for its check.
pub struct OAuthRun {
    pub ttl: Duration,
    /// Warm-up included: refreshes are counted from the login.
    pub measured: Duration,
    /// Tokens ended early by the fault injection.
    pub early_ends: u32,
    /// Requests in flight at most.
    pub concurrency: usize,
}

/// Every error code the README documents, with its status.
const DOCUMENTED: &[(&str, u16)] = &[
    ("missing_user_email", 400),
    ("invalid_user_email", 400),
    ("invalid_content_type", 400),
    ("empty_body", 400),
    ("invalid_json", 400),
    ("unknown_field", 400),
    ("missing_field", 400),
    ("invalid_field", 400),
    ("project_not_found", 400),
    ("issuetype_not_found", 400),
    ("component_not_found", 400),
    ("reporter_not_found", 400),
    ("assignee_not_found", 400),
    ("invalid_fields", 400),
    ("jira_rejected", 400),
    ("invalid_signature", 401),
    ("missing_credentials", 401),
    ("jira_unauthorized", 401),
    ("caller_not_allowed", 403),
    ("project_not_allowed", 403),
    ("reporter_not_settable", 403),
    ("jira_forbidden", 403),
    ("not_found", 404),
    ("method_not_allowed", 405),
    ("reporter_ambiguous", 409),
    ("assignee_ambiguous", 409),
    ("payload_too_large", 413),
    ("headers_too_large", 431),
    ("jira_rate_limited", 429),
    ("jira_error", 502),
    ("jira_unavailable", 502),
    ("jira_misconfigured", 502),
    ("overloaded", 503),
    ("oauth_reconsent_needed", 503),
    ("oauth_refresh_failed", 502),
    ("jira_timeout", 504),
    ("timeout", 504),
    ("jira_outcome_unknown", 504),
    ("request_timeout", 408),
    ("internal", 500),
];

/// What the fault injection did, for the checks.
pub struct Injected {
    /// How many times the credential was ended.
    pub credential_ends: u32,
    pub slow_clients: Vec<SlowClient>,
}

/// How a client that stalled mid-request was dealt with.
#[derive(Debug)]
pub struct SlowClient {
    /// `body` or `headers`: where it stalled.
    pub stalled: &'static str,
    /// The status it was answered with, `None` when the connection was
    /// closed without one; `Err` when neither happened in time.
    pub end: Result<Option<u16>, String>,
    /// Requests the server answered 200 while this one stalled.
    pub served_meanwhile: u64,
}

/// Injects one fault family per second, round robin, until `duration` is
/// nearly over: 429 storms with `Retry-After`, 5xx bursts, creates slower
/// than the server's Jira timeout (not applied), creates applied whose
/// connection then drops, the credential ended (the API token revoked for
/// a moment, or with `oauth` every OAuth access token ended early), creates
/// Jira commits only after the server's timeout (slow commit), and clients
/// that stall their headers or body mid-request (slow clients). With OAuth
/// the tokens also expire on their own every `--oauth-token-ttl`.
pub async fn inject(sim: Sim, load: Arc<Load>, duration: Duration, oauth: bool) -> Injected {
    let start = Instant::now();
    let mut credential_ends = 0;
    let mut slow = Vec::new();
    let step = Duration::from_secs(1);
    let token = match sim.flavor() {
        Flavor::Cloud => CredentialKind::Basic {
            email: demo::ADMIN_EMAIL.to_owned(),
            token: demo::ADMIN_TOKEN.to_owned(),
        },
        Flavor::DataCenter => CredentialKind::Pat {
            token: demo::ADMIN_PAT.to_owned(),
        },
    };
    // A stalled body is answered after the request timeout: only started
    // while that ends within the run.
    let slow_lasts = Duration::from_millis(REQUEST_TIMEOUT_MS) + step;
    let mut round = 0u32;
    // The order matters with OAuth: tokens ended early (round 5) are
    // refreshed then and, living 5 s with a 1 s margin, again 4 rounds
    // later (round 2 of the next cycle); the "500 anywhere" burst (round 1)
    // must not coincide with a refresh, or the refresh gets the 500.
    // The last two seconds run clean, so retries in flight can finish.
    while start.elapsed() + 2 * step < duration {
        match round % 7 {
            0 => sim.push_fault(
                Fault::once(Endpoint::CreateIssue, FaultKind::rate_limited(1)).times(20),
            ),
            1 => {
                sim.push_fault(Fault::any(FaultKind::status(500)).times(3));
                sim.push_fault(Fault::once(Endpoint::CreateIssue, FaultKind::status(502)).times(3));
                sim.push_fault(Fault::once(Endpoint::UserSearch, FaultKind::status(503)).times(3));
            }
            2 => sim.push_fault(
                Fault::once(
                    Endpoint::CreateIssue,
                    FaultKind::Delay(Duration::from_millis(JIRA_TIMEOUT_MS + 500)),
                )
                .times(3),
            ),
            3 => sim
                .push_fault(Fault::once(Endpoint::CreateIssue, FaultKind::ApplyThenDrop).times(3)),
            5 if oauth => {
                // A token ending before its stated expiry: requests in
                // flight get 401 jira_unauthorized, the next ones a
                // refreshed token.
                sim.expire_access_tokens();
                credential_ends += 1;
            }
            5 => {
                // A token expiring mid-run: API tokens have no refresh, so
                // the affected requests must get 401 jira_unauthorized.
                sim.remove_credential(&token);
                credential_ends += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
                sim.set_credentials(demo::credentials());
            }
            6 if start.elapsed() + slow_lasts < duration => {
                for (n, stalled) in ["body", "headers", "body", "headers"]
                    .into_iter()
                    .enumerate()
                {
                    let load = Arc::clone(&load);
                    let id = u64::from(round) * 10 + n as u64;
                    slow.push(tokio::spawn(slow_client(load, stalled, id)));
                }
            }
            // Slow commits (round 4, and the slow-client round near the end).
            _ => sim.push_fault(
                Fault::once(
                    Endpoint::CreateIssue,
                    FaultKind::DelayThenApply(Duration::from_millis(SLOW_COMMIT_MS)),
                )
                .times(3),
            ),
        }
        round += 1;
        tokio::time::sleep(step).await;
    }
    sim.clear_faults();
    let mut slow_clients = Vec::new();
    for task in slow {
        match task.await {
            Ok(client) => slow_clients.push(client),
            Err(err) => slow_clients.push(SlowClient {
                stalled: "?",
                end: Err(format!("the slow client's task failed: {err}")),
                served_meanwhile: 0,
            }),
        }
    }
    Injected {
        credential_ends,
        slow_clients,
    }
}

/// A client that sends part of a signed create (up to the middle of its
/// headers, or of its body) and then nothing, until the server answers or
/// closes the connection.
async fn slow_client(load: Arc<Load>, stalled: &'static str, id: u64) -> SlowClient {
    let served_before = load.successes();
    let end = stall(&load, stalled, id).await;
    SlowClient {
        stalled,
        end,
        served_meanwhile: load.successes().saturating_sub(served_before),
    }
}

async fn stall(load: &Load, stalled: &str, id: u64) -> Result<Option<u16>, String> {
    let body = format!(
        r#"{{"pid":"DEMO","issuetype":"Task","summary":"{SLOW_MARKER}{id}","description":"stalled"}}"#
    );
    let signature = load.token();
    let signature = signature.to_str().unwrap_or_default();
    let email = load.callers.first().map(|c| c.email.as_str()).unwrap_or("");
    let head = format!(
        "POST /create_issue HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Glean-Tools-Signature: {signature}\r\nGlean-User-Email: {email}\r\n\
         X-Request-Id: bench-slow-{id}\r\nContent-Length: {len}\r\n\r\n",
        addr = load.addr,
        len = body.len(),
    );
    let sent = match stalled {
        // Half the headers.
        "headers" => head[..head.len() / 2].to_owned(),
        // The headers and half the body.
        _ => format!("{head}{}", &body[..body.len() / 2]),
    };
    let mut stream = TcpStream::connect(&load.addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    stream
        .write_all(sent.as_bytes())
        .await
        .map_err(|e| format!("cannot send: {e}"))?;
    let wait = Duration::from_millis(REQUEST_TIMEOUT_MS + HEADER_TIMEOUT_MS + 5000);
    let mut answer = Vec::new();
    let read = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                        return;
                    }
                }
            }
        }
    })
    .await;
    if read.is_err() {
        return Err(format!("neither answered nor closed within {wait:?}"));
    }
    let text = String::from_utf8_lossy(&answer);
    Ok(text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|status| status.parse().ok()))
}

/// Repeats, as a client would after `Retry-After`, every request answered
/// `jira_outcome_unknown`, until it gets another answer; each must be 200
/// with the request's own issue (the no-duplicate check then covers what
/// the repeats created).
pub async fn retry_unknown(sim: &Sim, load: &Arc<Load>, outcomes: &[Outcome]) -> Check {
    let unknown: Vec<(u64, usize)> = outcomes
        .iter()
        .filter(|o| o.code.as_deref() == Some("jira_outcome_unknown"))
        .map(|o| (o.seq, o.caller))
        .collect();
    // A few at a time, as separate clients would: each repeat's lookup pages
    // through its busy reporter's recent issues, and dozens at once on the
    // shared CPU would outlast the 5 s OAuth tokens of `--auth oauth`.
    let limit = Arc::new(tokio::sync::Semaphore::new(4));
    let mut tasks = tokio::task::JoinSet::new();
    for (seq, caller) in unknown.iter().copied() {
        let load = Arc::clone(load);
        let limit = Arc::clone(&limit);
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut n = 0;
            loop {
                n += 1;
                let answer = load.repeat(seq, caller, n).await;
                if answer.code.as_deref() != Some("jira_outcome_unknown") {
                    return (seq, n, answer);
                }
                if answer.retry_after.is_none() || Instant::now() >= deadline {
                    return (seq, n, answer);
                }
                tokio::time::sleep(answer.retry_after.unwrap_or(Duration::from_secs(1))).await;
            }
        });
    }
    let mut failures = Vec::new();
    let mut repeats = 0;
    while let Some(done) = tasks.join_next().await {
        let Ok((seq, n, answer)) = done else {
            failures.push("a retry task failed".to_owned());
            continue;
        };
        repeats += n;
        let real = answer
            .key
            .as_deref()
            .and_then(|k| sim.issue(k))
            .is_some_and(|i| marker_of(&i.summary) == Some(seq));
        if answer.status != 200 || !real {
            failures.push(format!(
                "request {seq}: retried {n}×, last {} {:?} {:?}{}",
                answer.status,
                answer.code,
                answer.key,
                match answer.retry_after {
                    None if answer.code.as_deref() == Some("jira_outcome_unknown") =>
                        " without Retry-After",
                    _ => "",
                }
            ));
        }
    }
    check(
        "every jira_outcome_unknown is answered with its one issue on retry",
        &failures,
        format!(
            "{} requests left unknown, {repeats} retries after Retry-After, each answered 200 with its issue",
            unknown.len()
        ),
    )
}

/// Slow clients are answered 408 or closed, and create nothing; the other
/// requests keep being served while they stall.
pub fn slow_client_checks(sim: &Sim, slow: &[SlowClient]) -> Vec<Check> {
    if slow.is_empty() {
        let skip = |name| Check {
            name,
            status: Status::Skip,
            detail: "the run was too short for a slow-client round".to_owned(),
        };
        return vec![
            skip("slow clients are answered 408 or closed, without a create"),
            skip("normal calls are served while clients stall"),
        ];
    }
    let mut refused = Vec::new();
    for (n, client) in slow.iter().enumerate() {
        match &client.end {
            Ok(Some(408)) | Ok(None) => {}
            Ok(Some(status)) => refused.push(format!(
                "slow client {n} ({}) answered {status}",
                client.stalled
            )),
            Err(why) => refused.push(format!("slow client {n} ({}): {why}", client.stalled)),
        }
    }
    for issue in sim.issues() {
        if issue.summary.contains(SLOW_MARKER) {
            refused.push(format!("{} was created from a stalled request", issue.key));
        }
    }
    let count = |stalled: &str, end: Option<u16>| {
        slow.iter()
            .filter(|c| c.stalled == stalled && c.end.as_ref().ok() == Some(&end))
            .count()
    };
    let starved: Vec<String> = slow
        .iter()
        .enumerate()
        .filter(|(_, c)| c.served_meanwhile == 0)
        .map(|(n, c)| {
            format!(
                "nothing answered 200 while slow client {n} ({}) stalled",
                c.stalled
            )
        })
        .collect();
    let served: Vec<u64> = slow.iter().map(|c| c.served_meanwhile).collect();
    vec![
        check(
            "slow clients are answered 408 or closed, without a create",
            &refused,
            format!(
                "{} stalled bodies: {} answered 408, {} closed; {} stalled headers: {} answered 408, {} closed; no issue created",
                slow.iter().filter(|c| c.stalled == "body").count(),
                count("body", Some(408)),
                count("body", None),
                slow.iter().filter(|c| c.stalled == "headers").count(),
                count("headers", Some(408)),
                count("headers", None),
            ),
        ),
        check(
            "normal calls are served while clients stall",
            &starved,
            format!(
                "at least {} successes during each stall",
                served.iter().min().copied().unwrap_or(0)
            ),
        ),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Skip,
    Info,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
            Status::Info => "INFO",
        }
    }
}

pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
}

fn check(name: &'static str, failures: &[String], ok: String) -> Check {
    if failures.is_empty() {
        Check {
            name,
            status: Status::Pass,
            detail: ok,
        }
    } else {
        let mut detail = format!("{} violations, e.g. ", failures.len());
        detail.push_str(
            &failures
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("; "),
        );
        Check {
            name,
            status: Status::Fail,
            detail,
        }
    }
}

/// Where the audit trail can be read.
pub struct Audit<'a> {
    pub binary: &'a Path,
    pub config: &'a Path,
    pub enabled: bool,
}

fn marker_of(summary: &str) -> Option<u64> {
    let at = summary.find(MARKER)? + MARKER.len();
    let digits: String = summary[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The invariants, over every request of the run (warm-up included).
pub async fn check_all(
    sim: &Sim,
    load: &Load,
    outcomes: &[Outcome],
    audit: Audit<'_>,
    oauth: Option<OAuthRun>,
) -> Vec<Check> {
    let issues = sim.issues();
    let by_seq: HashMap<u64, &Outcome> = outcomes.iter().map(|o| (o.seq, o)).collect();
    let mut checks = Vec::new();

    // OAuth: tokens expired on their own many times; each was refreshed
    // before use (no request failed for it), and early ends cost only the
    // requests in flight.
    if let Some(run) = oauth {
        let refreshes = sim.oauth_refreshes();
        let expiries = (run.measured.as_secs_f64() / run.ttl.as_secs_f64()).floor() as u64;
        let reconsent: Vec<String> = outcomes
            .iter()
            .filter(|o| o.code.as_deref().is_some_and(|c| c.starts_with("oauth_")))
            .map(|o| format!("request {} got {}", o.seq, o.code.as_deref().unwrap_or("")))
            .collect();
        let mut failures = reconsent;
        if refreshes < expiries.saturating_sub(1).max(1) {
            failures.push(format!(
                "{refreshes} refreshes for {expiries} token lifetimes in the run"
            ));
        }
        let unauthorized = outcomes
            .iter()
            .filter(|o| o.code.as_deref() == Some("jira_unauthorized"))
            .count();
        // Each early end costs the requests in flight, not the requests of
        // the token's remaining lifetime (twice the in-flight bound: some
        // start before the first 401 has marked the token expired).
        let bound = 2 * run.concurrency * run.early_ends as usize;
        if unauthorized > bound {
            failures.push(format!(
                "{unauthorized} requests got 401 for {} early ends with at most {} in flight",
                run.early_ends, run.concurrency
            ));
        }
        checks.push(check(
            "OAuth tokens expiring mid-run are refreshed",
            &failures,
            format!(
                "{refreshes} refreshes (tokens live {:?}), no oauth_* error; {unauthorized} requests \
                 in flight when a token was ended early ({}×) got 401 jira_unauthorized",
                run.ttl, run.early_ends
            ),
        ));
    }

    // No duplicate issue: each request has its own summary.
    let mut per_seq: HashMap<u64, Vec<&str>> = HashMap::new();
    let mut unmarked = Vec::new();
    for i in &issues {
        match marker_of(&i.summary) {
            Some(seq) => per_seq.entry(seq).or_default().push(&i.key),
            None => unmarked.push(format!("{} has no bench marker", i.key)),
        }
    }
    let mut dups: Vec<String> = per_seq
        .iter()
        .filter(|(_, keys)| keys.len() > 1)
        .map(|(seq, keys)| format!("request {seq} → {}", keys.join(", ")))
        .collect();
    dups.extend(unmarked);
    checks.push(check(
        "no duplicate issue",
        &dups,
        format!(
            "{} issues for {} distinct requests",
            issues.len(),
            per_seq.len()
        ),
    ));

    // Every issue has the requested reporter.
    let mut wrong = Vec::new();
    for i in &issues {
        let Some(seq) = marker_of(&i.summary) else {
            continue;
        };
        match by_seq.get(&seq) {
            Some(o) => {
                // Cloud names people by account id, Data Center by username.
                let caller = &load.callers[o.caller];
                let (want, got) = match sim.flavor() {
                    Flavor::Cloud => (&caller.account_id, &i.reporter),
                    Flavor::DataCenter => (&caller.username, &i.reporter_name),
                };
                if got.as_deref() != Some(want.as_str()) {
                    wrong.push(format!("{}: reporter {got:?}, wanted {want}", i.key));
                }
            }
            None => wrong.push(format!("{}: request {seq} unknown to the harness", i.key)),
        }
    }
    checks.push(check(
        "every issue has the requested reporter",
        &wrong,
        format!("{} issues checked", issues.len()),
    ));

    // Every success is real: its key is an issue of that request.
    let mut phantom = Vec::new();
    for o in outcomes.iter().filter(|o| o.status == 200) {
        let real = o
            .key
            .as_deref()
            .and_then(|k| sim.issue(k))
            .is_some_and(|i| marker_of(&i.summary) == Some(o.seq));
        if !real {
            phantom.push(format!("request {} answered 200 with {:?}", o.seq, o.key));
        }
    }
    let successes = outcomes.iter().filter(|o| o.status == 200).count();
    checks.push(check(
        "every 200 names the request's issue",
        &phantom,
        format!("{successes} successes"),
    ));

    // Every failure has a documented code with its documented status.
    let mut undocumented = Vec::new();
    let mut failures = 0;
    for o in outcomes.iter().filter(|o| o.status != 200) {
        failures += 1;
        let documented = o
            .code
            .as_deref()
            .and_then(|c| DOCUMENTED.iter().find(|(d, _)| *d == c))
            .is_some_and(|(_, status)| *status == o.status);
        if !documented {
            undocumented.push(match o.status {
                0 => format!("request {}: no answer", o.seq),
                s => format!("request {}: {s} {:?}", o.seq, o.code),
            });
        }
    }
    checks.push(check(
        "every failed request got a documented error code",
        &undocumented,
        format!("{failures} failures, all documented"),
    ));

    // Issues whose request was answered with an error (an applied create
    // whose answer was lost and not recovered): not an invariant, a figure.
    let orphans = per_seq
        .keys()
        .filter(|seq| by_seq.get(seq).is_some_and(|o| o.status != 200))
        .count();
    checks.push(Check {
        name: "issues created for requests answered with an error",
        status: Status::Info,
        detail: orphans.to_string(),
    });

    checks.push(audit_check(outcomes, audit).await);
    checks
}

/// Exactly one audit record per request, from `jira-action audit`.
async fn audit_check(outcomes: &[Outcome], audit: Audit<'_>) -> Check {
    let name = "every request has exactly one audit record";
    let skip = |why: &str| Check {
        name,
        status: Status::Skip,
        detail: why.to_owned(),
    };
    if !audit.enabled {
        return skip("this server build has no store/audit trail yet");
    }
    let has_command = tokio::process::Command::new(audit.binary)
        .args(["audit", "--help"])
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    if !has_command {
        return skip("this server build has no `jira-action audit` command yet");
    }
    // Records may be written just after the answer.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let out = match tokio::process::Command::new(audit.binary)
        .arg("audit")
        .args(["--format", "json", "--config"])
        .arg(audit.config)
        .output()
        .await
    {
        Ok(o) if o.status.success() => o.stdout,
        Ok(o) => {
            return Check {
                name,
                status: Status::Fail,
                detail: format!(
                    "`jira-action audit` failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
            };
        }
        Err(e) => return skip(&format!("cannot run `jira-action audit`: {e}")),
    };
    // A JSON array, or one JSON object per line.
    let text = String::from_utf8_lossy(&out);
    let records: Vec<Value> = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(a)) => a,
        _ => text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
    };
    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in &records {
        let id = r
            .get("request_id")
            .or_else(|| r.get("requestId"))
            .and_then(Value::as_str)
            .unwrap_or("");
        *counts.entry(id.to_owned()).or_default() += 1;
    }
    let bad: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            let id = format!("bench-{}", o.seq);
            let n = counts.get(&id).copied().unwrap_or(0);
            (n != 1).then(|| format!("{id}: {n} records"))
        })
        .collect();
    check(
        name,
        &bad,
        format!("{} requests, {} records", outcomes.len(), records.len()),
    )
}
