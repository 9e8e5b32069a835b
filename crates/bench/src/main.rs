//! `bench`: starts the Jira simulator (in this process) and the release
//! jira-action server (a child process), drives `POST /create_issue` with
//! its own load generator and prints one table (and `--json FILE`):
//! throughput, errors, latency (whole and added by jira-action), Jira calls
//! per issue (cold/warm), server RSS and CPU. `--faults` injects Jira
//! faults and checks invariants against the simulator's record.
//!
//! ```sh
//! cargo build --release -p jira-action -p bench
//! cargo run --release -p bench -- --duration 60s --concurrency 64
//! cargo run --release -p bench -- --rate 500 --jira-latency-ms 20
//! cargo run --release -p bench -- --faults --duration 30s
//! ```

mod direct;
mod faults;
mod load;
mod oauth;
mod report;
mod server;
mod simserve;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use jira_sim::{Endpoint, Flavor, Sim, SimConfig, Site};

/// Throughput, latency, Jira-call and fault runs of jira-action.
#[derive(Parser, Debug, Clone)]
#[command(name = "bench")]
pub struct Opts {
    /// Generated users in the simulated directory (up to 1,000,000).
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Latency the simulator adds to every Jira call.
    #[arg(long, default_value_t = 0)]
    pub jira_latency_ms: u64,
    /// Requests in flight (closed loop), or the most in flight with --rate.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Open loop: start this many requests per second, whatever the
    /// answers' latency (latency is measured from dispatch, before waiting for a free slot).
    #[arg(long)]
    pub rate: Option<f64>,
    /// How long the measured phase runs ("30s", "10m").
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Warm traffic after every warm caller's first request, before measuring.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
    /// Distinct warm callers (each made one request during the warm-up).
    #[arg(long, default_value_t = 100)]
    pub callers: usize,
    /// Share of requests from a caller never seen before (0.0–1.0).
    #[arg(long, default_value_t = 0.05)]
    pub cold_share: f64,
    /// Size of each request's Markdown description, in bytes.
    #[arg(long, default_value_t = 1024)]
    pub markdown_bytes: usize,
    /// Inject Jira faults during the run and check the invariants
    /// (exit status 1 on any FAIL).
    #[arg(long)]
    pub faults: bool,
    /// The server's client-side limit on Jira calls per second
    /// (`jira.max_requests_per_second`); 0, the default here, turns it off
    /// so that the run measures the server rather than its throttle.
    #[arg(long, default_value_t = 0.0)]
    pub jira_rps: f64,
    /// Have the simulator check every description against Atlassian's ADF
    /// schema, as Jira does (always on with --faults). Off by default: the
    /// check costs the shared CPU more than the server's whole request.
    #[arg(long)]
    pub validate_adf: bool,
    /// The simulator keeps the bodies (ADF, request) of only this many of
    /// the latest issues; the checks of --faults read only what every issue
    /// keeps (key, summary, reporter). Few: a kept body is about 100 KB of
    /// `serde_json::Value`s, and a simulator that keeps growing spends its
    /// CPU (which the server shares) faulting in fresh pages.
    #[arg(long, default_value_t = 1_000)]
    pub sim_retain_bodies: usize,
    /// How the server authenticates to Jira: `api-token`, or `oauth` (a
    /// 3LO connection made by `jira-action oauth login`, with access tokens
    /// living --oauth-token-ttl, so that they expire during the run; under
    /// --faults, some are also ended early).
    #[arg(long, default_value = "api-token", value_parser = ["api-token", "oauth"])]
    pub auth: String,
    /// Lifetime of the simulator's OAuth access tokens (Atlassian: 1 h).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub oauth_token_ttl: Duration,
    /// Measure the harness alone: after the warm-up through the server, post
    /// the create body the server last sent straight to the simulator
    /// (closed loop, --concurrency) and report what the load generator and
    /// the simulator reach and cost without jira-action.
    #[arg(long, conflicts_with_all = ["faults", "rate"])]
    pub direct: bool,
    /// Which door the load comes through: `glean` (`POST /create_issue`,
    /// signed) or `mcp` (`tools/call` of `create_issue` at `/mcp`, with an
    /// API key and the user header).
    #[arg(long, default_value = "glean", value_parser = ["glean", "mcp"], conflicts_with = "faults")]
    pub front_door: String,
    /// Which Jira the simulator plays: `cloud` (REST v3, API token) or
    /// `datacenter` (REST v2 under the context path `/jira`, a personal
    /// access token, usernames and wiki markup).
    #[arg(long, default_value = "cloud", value_parser = ["cloud", "datacenter"])]
    pub flavor: String,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// The load generator and the simulator share the machine with the server:
/// a cheaper allocator leaves it more CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let opts = Opts::parse();
    anyhow::ensure!(
        (0.0..=1.0).contains(&opts.cold_share),
        "--cold-share must be between 0 and 1"
    );
    anyhow::ensure!(opts.users <= 1_000_000, "--users is at most 1,000,000");
    anyhow::ensure!(
        !(opts.oauth() && opts.data_center()),
        "--auth oauth is Jira Cloud's: Data Center runs with a personal access token"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let passed = runtime.block_on(run(opts))?;
    // Connection tasks may still be parked; do not wait for them.
    runtime.shutdown_timeout(Duration::from_millis(100));
    if !passed {
        std::process::exit(1);
    }
    Ok(())
}

/// One caller of the load: an email of the directory and its account id.
#[derive(Clone, Debug)]
pub struct Caller {
    pub email: String,
    pub account_id: String,
    /// Data Center's name for the person (what its reporter field holds).
    pub username: String,
}

/// Callers from the generated users: active ones only (an inactive reporter
/// is refused by design), spread over the whole directory so lookups do not
/// all hit its start.
fn pick_callers(site: &Site, want: usize) -> Vec<Caller> {
    let generated = &site.users[jira_sim::demo::FIXED_USERS..];
    let n = generated.len();
    if n == 0 {
        return Vec::new();
    }
    // A stride coprime with n visits every user once, in a scattered order.
    let mut stride = (n / 2 + 7919) % n.max(1);
    while stride == 0 || gcd(stride, n) != 1 {
        stride += 1;
    }
    let mut out = Vec::with_capacity(want.min(n));
    let mut i = 0usize;
    for _ in 0..n {
        let u = &generated[i];
        if u.active
            && let Some(email) = &u.email
        {
            out.push(Caller {
                email: email.to_lowercase(),
                account_id: u.account_id.clone(),
                username: u.name.clone(),
            });
            if out.len() == want {
                break;
            }
        }
        i = (i + stride) % n;
    }
    out
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

async fn run(opts: Opts) -> anyhow::Result<bool> {
    let binary = server::binary()?;
    let machine = server::machine();
    println!("machine: {machine}");

    // The directory, and the callers taken from it before the site moves
    // into the simulator (a million users are not copied).
    let site = Site::demo(opts.users);
    let expected_requests = match opts.rate {
        Some(r) => r * opts.duration.as_secs_f64(),
        None => 6000.0 * opts.duration.as_secs_f64(),
    };
    let cold_wanted = (expected_requests * opts.cold_share * 1.2) as usize + 16;
    let callers = pick_callers(&site, opts.callers + cold_wanted);
    anyhow::ensure!(
        callers.len() > opts.callers,
        "the directory has {} usable callers; use more --users or fewer --callers",
        callers.len()
    );
    let sim = Sim::new(SimConfig {
        site,
        latency: Duration::from_millis(opts.jira_latency_ms),
        validate_adf: opts.validate_adf || opts.faults,
        retain_bodies: Some(opts.sim_retain_bodies),
        // An open loop knows how many issues it will create: room for them
        // up front, so the simulator never stalls copying its store mid-run
        // (a soak's stalls at 131,072 and 262,144 issues each sent the
        // server a burst of 300 late requests). A closed loop slows down
        // with a stall instead of bursting after it.
        expected_issues: opts.rate.map_or(0, |rate| {
            (rate * (opts.duration + opts.warmup).as_secs_f64()) as usize + opts.callers + 1024
        }),
        oauth: jira_sim::OAuthConfig {
            access_token_ttl: opts.oauth_token_ttl,
            ..jira_sim::OAuthConfig::default()
        },
        flavor: opts.jira_flavor(),
        context_path: opts
            .data_center()
            .then(|| simserve::CONTEXT_PATH.to_owned()),
        ..SimConfig::default()
    });
    let recorder = Arc::new(simserve::Recorder::default());
    let jira_url = simserve::serve(&sim, recorder.clone()).await?;

    let dir = tempfile::tempdir()?;
    let signer = glean_sim::TestSigner::new();
    let key = dir.path().join("glean.pem");
    std::fs::write(&key, signer.public_key_pem())?;
    let log = dir.path().join("server.log");

    // The SQLite store (idempotency, audit trail) in the run's directory.
    // A server from before the store refuses the unknown sections at
    // start-up: then the run goes on without them.
    let mut store = true;
    let config = dir.path().join("jira-action.toml");
    if opts.oauth() {
        std::fs::write(
            &config,
            server_config(&opts, &jira_url, &key, dir.path(), store),
        )?;
        oauth::login(&binary, &config).await?;
    }
    let srv = loop {
        std::fs::write(
            &config,
            server_config(&opts, &jira_url, &key, dir.path(), store),
        )?;
        match server::Server::start(&binary, &config, &log).await {
            Ok(s) => break s,
            Err(e) if store && format!("{e:#}").contains("unknown field") => {
                eprintln!("note: this server has no [store]/[audit] yet; running without");
                store = false;
            }
            Err(e) => return Err(e),
        }
    };
    let ready_after = srv.ready_after;

    let load = Arc::new(load::Load::new(
        &srv.url,
        signer,
        callers,
        opts.callers,
        opts.markdown_bytes,
        match opts.front_door.as_str() {
            "mcp" => load::Door::Mcp,
            _ => load::Door::Glean,
        },
    )?);

    // Warm-up: every warm caller once (fills the user cache and the project
    // metadata), then warm traffic, then nothing is counted from before.
    load.warm_up(opts.concurrency).await;
    load::Load::run(&load, &opts_without_cold(&opts), opts.warmup, None).await;
    let mut every_outcome = load.take_outcomes();
    let warmup_calls = recorder.take();
    let warmup_requests = every_outcome.len();
    sim.reset_calls();

    if opts.direct {
        let recorded = every_outcome
            .iter()
            .rev()
            .find_map(|o| sim.issue(o.key.as_deref()?))
            .map(|issue| issue.request)
            .filter(|body| !body.is_empty())
            .context("the warm-up created no issue whose create body the simulator kept")?;
        srv.stop().await;
        let first_seq = every_outcome.iter().map(|o| o.seq).max().unwrap_or(0) + 1_000_000;
        let run = direct::run(
            &jira_url,
            opts.jira_flavor(),
            &recorded,
            opts.concurrency,
            opts.duration,
            first_seq,
        )
        .await?;
        print!("{}", run.table(&machine, opts.concurrency));
        if let Some(path) = &opts.json {
            std::fs::write(
                path,
                serde_json::to_string_pretty(&run.json(opts.concurrency))?,
            )
            .with_context(|| format!("cannot write {}", path.display()))?;
        }
        return Ok(run.created == run.requests);
    }

    let before = srv.stats();
    let harness_before = server::ProcStats::of(std::process::id());
    let started = Instant::now();
    let fault_task = opts.faults.then(|| {
        tokio::spawn(faults::inject(
            sim.clone(),
            Arc::clone(&load),
            opts.duration,
            opts.oauth(),
        ))
    });
    let sampler = tokio::spawn(sample_rss(srv.pid, opts.duration));
    load::Load::run(&load, &opts, opts.duration, Some(started)).await;
    let elapsed = started.elapsed();
    let injected = match fault_task {
        Some(task) => task.await.ok(),
        None => None,
    };
    let early_ends = injected.as_ref().map_or(0, |i| i.credential_ends);
    let after = srv.stats();
    let harness_cpu_secs =
        server::ProcStats::of(std::process::id()).cpu_secs - harness_before.cpu_secs;
    sampler.abort();
    let outcomes = load.take_outcomes();
    let calls = recorder.take();
    let sim_totals: Vec<(Endpoint, u64)> = Endpoint::ALL
        .iter()
        .map(|e| (*e, sim.calls(*e)))
        .filter(|(_, n)| *n > 0)
        .collect();

    let mut checks = Vec::new();
    if opts.faults {
        every_outcome.extend(outcomes.iter().cloned());
        // First, so that the other checks see what the retries created.
        let retried = faults::retry_unknown(&sim, &load, &every_outcome).await;
        checks = faults::check_all(
            &sim,
            &load,
            &every_outcome,
            faults::Audit {
                binary: &binary,
                config: &config,
                enabled: store,
            },
            opts.oauth().then_some(faults::OAuthRun {
                ttl: opts.oauth_token_ttl,
                measured: elapsed,
                early_ends,
                concurrency: opts.concurrency,
            }),
        )
        .await;
        checks.push(retried);
        let slow = injected.as_ref().map_or(&[][..], |i| &i.slow_clients[..]);
        checks.extend(faults::slow_client_checks(&sim, slow));
    }
    srv.stop().await;

    let report = report::Report::build(report::Inputs {
        opts: &opts,
        machine: &machine,
        store,
        ready_after,
        elapsed,
        outcomes: &outcomes,
        calls: &calls,
        sim_totals: &sim_totals,
        before,
        after,
        harness_cpu_secs,
        checks: &checks,
        callers: &load.callers,
        cold_pool_exhausted: load.cold_pool_exhausted(),
        warmup: (warmup_requests, &warmup_calls),
    });
    print!("{}", report.table());
    if let Some(path) = &opts.json {
        std::fs::write(path, serde_json::to_string_pretty(&report.json())?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(checks.iter().all(|c| c.status != faults::Status::Fail))
}

impl Opts {
    pub fn oauth(&self) -> bool {
        self.auth == "oauth"
    }

    pub fn data_center(&self) -> bool {
        self.flavor == "datacenter"
    }

    pub fn jira_flavor(&self) -> Flavor {
        if self.data_center() {
            Flavor::DataCenter
        } else {
            Flavor::Cloud
        }
    }
}

/// The warm traffic after the warm-up: no cold callers, so the cold pool is
/// kept for the measured phase.
fn opts_without_cold(opts: &Opts) -> Opts {
    Opts {
        cold_share: 0.0,
        ..opts.clone()
    }
}

/// Samples the server's RSS once a second, so a soak run shows its start
/// and end (the peak comes from `VmHWM`).
async fn sample_rss(pid: u32, duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let s = server::ProcStats::of(pid);
        eprintln!(
            "[{:>5.0}s] server RSS {:.1} MiB, peak {:.1} MiB",
            start.elapsed().as_secs_f64(),
            s.rss_kib as f64 / 1024.0,
            s.peak_rss_kib as f64 / 1024.0
        );
    }
}

/// The server's configuration: api-token auth against the simulator,
/// signatures on, and the SQLite store and audit trail when `store`.
fn server_config(
    opts: &Opts,
    jira_url: &str,
    key: &std::path::Path,
    dir: &std::path::Path,
    store: bool,
) -> String {
    // Under faults, a short Jira timeout and retry budget keep the run short
    // and make "slower than the timeout" reachable.
    let (timeout, budget) = if opts.faults {
        (faults::JIRA_TIMEOUT_MS, 3000)
    } else {
        (10_000, 20_000)
    };
    // Under faults, stalled clients are let go within the run, and a create
    // whose outcome is unknown may be looked up again soon. Durations keep
    // their deprecated `_ms`/`_secs` spellings, which servers from before
    // `"30s"`-style durations read too.
    let (limits, settle, wait) = if opts.faults {
        (
            format!(
                "request_timeout_ms = {}\nheader_read_timeout_ms = {}\n",
                faults::REQUEST_TIMEOUT_MS,
                faults::HEADER_TIMEOUT_MS
            ),
            format!("outcome_settle_ms = {}\n", faults::SETTLE_MS),
            "wait_for_in_progress_ms = 2000\n",
        )
    } else {
        (String::new(), String::new(), "")
    };
    // Keys of the store era (a server from before refuses them).
    let newer = if store {
        format!(
            "max_requests_per_second = {rps}\n{settle}\n[store]\nurl = \"sqlite://{db}\"\n{wait}\n[audit]\nretention_days = 1\n",
            rps = opts.jira_rps,
            db = dir.join("jira-action.db").display(),
        )
    } else {
        String::new()
    };
    // OAuth: nothing but the stored connection says where Jira is.
    let (jira, oauth) = if opts.oauth() {
        (
            "auth = \"oauth\"".to_owned(),
            format!(
                "\n[oauth]\nclient_id = \"{id}\"\nclient_secret = \"{secret}\"\nauth_url = \"{jira_url}\"\napi_url = \"{jira_url}\"\nredirect_uri = \"http://127.0.0.1:{port}/oauth/callback\"\ntoken_key = \"{key}\"\nrefresh_margin_secs = 1\n",
                id = jira_sim::demo::OAUTH_CLIENT_ID,
                secret = jira_sim::demo::OAUTH_CLIENT_SECRET,
                port = oauth::free_port().unwrap_or(8765),
                key = oauth::TOKEN_KEY,
            ),
        )
    } else if opts.data_center() {
        // The token comes from JIRA_ACTION_JIRA_PAT (see `server`).
        (
            format!("url = \"{jira_url}\"\nflavor = \"datacenter\"\nauth = \"pat\""),
            String::new(),
        )
    } else {
        (
            format!(
                "url = \"{jira_url}\"\nauth = \"api-token\"\nemail = \"{}\"",
                jira_sim::demo::ADMIN_EMAIL
            ),
            String::new(),
        )
    };
    let toml = format!(
        r#"listen = "127.0.0.1:0"

[limits]
max_concurrent_requests = 4096
{limits}
[glean]
key_file = "{key}"

[jira]
{jira}
request_timeout_ms = {timeout}
retry_budget_ms = {budget}
{newer}{oauth}"#,
        key = key.display(),
    );
    toml
}
