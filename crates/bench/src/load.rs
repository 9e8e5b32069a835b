//! The load generator: signed `POST /create_issue` calls (or MCP
//! `tools/call`s of `create_issue` at `/mcp`) from a pool of callers,
//! closed loop (fixed concurrency) or open loop (fixed rate).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use http::HeaderValue;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::simserve::MARKER;
use crate::{Caller, Opts};

/// The MCP API key the bench's server is started with.
pub const MCP_KEY: &str = "bench-mcp-key";

/// Which door the requests come through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    Glean,
    Mcp,
}

/// What one request got.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub seq: u64,
    /// Index into [`Load::callers`].
    pub caller: usize,
    /// The caller's first request.
    pub cold: bool,
    /// From dispatch (before waiting for a permit) to the whole answer read.
    pub micros: u64,
    /// 0: no HTTP answer at all.
    pub status: u16,
    /// The `error` of a failure.
    pub code: Option<String>,
    /// The issue key of a success.
    pub key: Option<String>,
    /// The server's own time as its `Server-Timing` header tells it (`app`:
    /// the handler's time minus its Jira calls and back-off).
    pub server_app_micros: Option<u64>,
    /// Of which waiting on the store (`store`).
    pub server_store_micros: Option<u64>,
    /// The time the server waited for Jira (`jira` + `pause`).
    pub server_jira_micros: Option<u64>,
}

/// The `<name>;dur=<ms>` of a `Server-Timing` header, in microseconds.
fn server_timing(headers: &reqwest::header::HeaderMap, name: &str) -> Option<u64> {
    let header = headers.get("server-timing")?.to_str().ok()?;
    header.split(',').find_map(|part| {
        let dur = part.trim().strip_prefix(name)?.strip_prefix(";dur=")?;
        let ms: f64 = dur.parse().ok()?;
        Some((ms * 1000.0).round() as u64)
    })
}

pub struct Load {
    client: reqwest::Client,
    url: String,
    door: Door,
    signer: glean_sim::TestSigner,
    /// The signature in use, re-signed well before it expires (tokens live
    /// 60 s; signing costs far more than a request, so not per request).
    token: RwLock<(HeaderValue, Instant)>,
    pub callers: Vec<Caller>,
    /// The first `warm` callers are the warm pool; the rest are used once
    /// each, as cold callers.
    warm: usize,
    next_cold: AtomicUsize,
    seq: AtomicU64,
    /// The description as a JSON string literal, quotes included.
    description: String,
    outcomes: Mutex<Vec<Outcome>>,
    /// Requests answered 200 so far (read while clients stall, to see that
    /// the others keep being served).
    successes: AtomicU64,
    /// The server's `host:port`.
    pub addr: String,
}

/// What a repeat of a request got, and when the server said to retry.
pub struct Answer {
    pub status: u16,
    pub code: Option<String>,
    pub key: Option<String>,
    pub retry_after: Option<Duration>,
}

const RESIGN_AFTER: Duration = Duration::from_secs(30);

/// The load generator's HTTP client: a connection kept per request in
/// flight, no Nagle delay on small requests.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()
}

impl Load {
    pub fn new(
        server: &str,
        signer: glean_sim::TestSigner,
        callers: Vec<Caller>,
        warm: usize,
        markdown_bytes: usize,
        door: Door,
    ) -> anyhow::Result<Load> {
        let client = client()?;
        let token = HeaderValue::from_str(&signer.token())?;
        Ok(Load {
            client,
            url: match door {
                Door::Glean => format!("{server}/create_issue"),
                Door::Mcp => format!("{server}/mcp"),
            },
            door,
            signer,
            token: RwLock::new((token, Instant::now())),
            callers,
            warm,
            next_cold: AtomicUsize::new(warm),
            seq: AtomicU64::new(1),
            description: serde_json::to_string(&markdown(markdown_bytes))?,
            outcomes: Mutex::new(Vec::new()),
            successes: AtomicU64::new(0),
            addr: server
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned(),
        })
    }

    /// A valid `Glean-Tools-Signature`.
    pub fn token(&self) -> HeaderValue {
        {
            let t = self.token.read().unwrap_or_else(PoisonError::into_inner);
            if t.1.elapsed() < RESIGN_AFTER {
                return t.0.clone();
            }
        }
        let mut t = self.token.write().unwrap_or_else(PoisonError::into_inner);
        if t.1.elapsed() >= RESIGN_AFTER
            && let Ok(v) = HeaderValue::from_str(&self.signer.token())
        {
            *t = (v, Instant::now());
        }
        t.0.clone()
    }

    /// The caller of the next request: a fresh one with probability
    /// `cold_share` (while the pool lasts), else a warm one.
    fn pick(&self, rng: &mut Rng, cold_share: f64) -> (usize, bool) {
        if cold_share > 0.0 && rng.unit() < cold_share {
            let i = self.next_cold.fetch_add(1, Ordering::Relaxed);
            if i < self.callers.len() {
                return (i, true);
            }
        }
        (rng.below(self.warm), false)
    }

    /// Whether the cold pool ran out (later "cold" picks were warm).
    pub fn cold_pool_exhausted(&self) -> bool {
        self.next_cold.load(Ordering::Relaxed) >= self.callers.len()
    }

    /// Requests answered 200 so far.
    pub fn successes(&self) -> u64 {
        self.successes.load(Ordering::Relaxed)
    }

    /// Sends request `seq`'s body as `caller` (the same body, so the same
    /// request, every time) with this request id.
    async fn send(
        &self,
        seq: u64,
        caller: usize,
        request_id: String,
    ) -> (Answer, [Option<u64>; 3]) {
        let fields = format!(
            r#"{{"pid":"DEMO","issuetype":"Task","summary":"{MARKER}{seq} load test","priority":3,"description":{}}}"#,
            self.description
        );
        let request = self
            .client
            .post(&self.url)
            .header("glean-user-email", &self.callers[caller].email)
            .header("x-request-id", request_id)
            .header("content-type", "application/json");
        let request = match self.door {
            Door::Glean => request
                .header("glean-tools-signature", self.token())
                .body(fields),
            Door::Mcp => request
                .header("authorization", format!("Bearer {MCP_KEY}"))
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-11-25")
                .body(format!(
                    r#"{{"jsonrpc":"2.0","id":{seq},"method":"tools/call","params":{{"name":"create_issue","arguments":{fields}}}}}"#
                )),
        };
        let sent = request.send().await;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let h = response.headers();
                let timing = [
                    server_timing(h, "app"),
                    server_timing(h, "store"),
                    server_timing(h, "jira").and_then(|j| Some(j + server_timing(h, "pause")?)),
                ];
                let retry_after = h
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .map(Duration::from_secs);
                let json: Value = response.json().await.unwrap_or(Value::Null);
                let (status, answer) = match self.door {
                    Door::Glean => (status, &json),
                    // A tool error has no HTTP status of its own: 422
                    // stands for it, so the tables count it as a failure.
                    Door::Mcp => {
                        let result = &json["result"];
                        let failed = result["isError"].as_bool().unwrap_or(true);
                        let status = if status == 200 && failed { 422 } else { status };
                        (status, &result["structuredContent"])
                    }
                };
                let text = |k: &str| answer.get(k).and_then(Value::as_str).map(str::to_owned);
                if status == 200 {
                    self.successes.fetch_add(1, Ordering::Relaxed);
                }
                let answer = Answer {
                    status,
                    code: text("error"),
                    key: text("key"),
                    retry_after,
                };
                (answer, timing)
            }
            Err(_) => {
                let answer = Answer {
                    status: 0,
                    code: None,
                    key: None,
                    retry_after: None,
                };
                (answer, [None; 3])
            }
        }
    }

    /// Sends request `seq` again, as a client retrying it would (not
    /// recorded as an outcome; its own request id, `bench-{seq}-retry-{n}`).
    pub async fn repeat(&self, seq: u64, caller: usize, n: u32) -> Answer {
        self.send(seq, caller, format!("bench-{seq}-retry-{n}"))
            .await
            .0
    }

    /// One request; records and returns its outcome.
    async fn one(&self, caller: usize, cold: bool, start: Instant) -> Outcome {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let (answer, timing) = self.send(seq, caller, format!("bench-{seq}")).await;
        let outcome = Outcome {
            seq,
            caller,
            cold,
            micros: u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX),
            status: answer.status,
            code: answer.code,
            key: answer.key,
            server_app_micros: timing[0],
            server_store_micros: timing[1],
            server_jira_micros: timing[2],
        };
        self.outcomes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(outcome.clone());
        outcome
    }

    /// Every warm caller's first request (cold, not measured).
    pub async fn warm_up(self: &Arc<Self>, concurrency: usize) {
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..concurrency.max(1) {
            let load = self.clone();
            let next = next.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= load.warm {
                        break;
                    }
                    load.one(i, true, Instant::now()).await;
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    }

    /// Runs the load for `duration`: `opts.rate` requests a second if set
    /// (at most `opts.concurrency` in flight), else `opts.concurrency`
    /// callers back to back.
    pub async fn run(self: &Arc<Self>, opts: &Opts, duration: Duration, started: Option<Instant>) {
        let started = started.unwrap_or_else(Instant::now);
        let deadline = started + duration;
        let cold_share = opts.cold_share;
        match opts.rate {
            Some(rate) => {
                // Room for every outcome up front: doubling a vector of
                // hundreds of thousands mid-run stalls this process (and the
                // simulator in it) for half a second, then fires the late
                // requests at the server as one burst.
                let expected = (rate * duration.as_secs_f64()) as usize + 1024;
                self.outcomes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .reserve(expected);
                let limit = Arc::new(Semaphore::new(opts.concurrency.max(1)));
                let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
                let mut rng = Rng::new(0x5eed);
                let mut n: u32 = 0;
                let mut tasks = tokio::task::JoinSet::new();
                loop {
                    let at = started + period * n;
                    if at >= deadline {
                        break;
                    }
                    tokio::time::sleep_until(at.into()).await;
                    // The clock starts at dispatch, before waiting for a
                    // permit: a slow answer still delays no request's clock
                    // (no coordinated omission), and this loop never waits
                    // on the server. Not at `at`: tokio's timer wakes on
                    // whole milliseconds, up to 1 ms late, and that
                    // lateness is the load generator's, not the server's.
                    let at = Instant::now();
                    n += 1;
                    let (caller, cold) = self.pick(&mut rng, cold_share);
                    let load = self.clone();
                    let limit = limit.clone();
                    tasks.spawn(async move {
                        let _permit = limit.acquire_owned().await;
                        load.one(caller, cold, at).await;
                    });
                    while tasks.try_join_next().is_some() {}
                }
                while tasks.join_next().await.is_some() {}
            }
            None => {
                let mut tasks = Vec::new();
                for w in 0..opts.concurrency.max(1) {
                    let load = self.clone();
                    tasks.push(tokio::spawn(async move {
                        let mut rng = Rng::new(w as u64 + 1);
                        while Instant::now() < deadline {
                            let (caller, cold) = load.pick(&mut rng, cold_share);
                            load.one(caller, cold, Instant::now()).await;
                        }
                    }));
                }
                for t in tasks {
                    let _ = t.await;
                }
            }
        }
    }

    /// The outcomes so far; starts a new record.
    pub fn take_outcomes(&self) -> Vec<Outcome> {
        std::mem::take(&mut *self.outcomes.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A small xorshift generator: the mix needs no quality, only speed and
/// reproducibility.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A Markdown description of about `bytes` bytes, with the constructs the
/// converter handles (headings, emphasis, lists, code, links).
pub fn markdown(bytes: usize) -> String {
    const BLOCK: &str = "## Steps\n\n1. Open the **checkout** page\n2. Pay with a *German* card\n\n- [ ] fix validation\n- [x] reproduce\n\n`POST /pay` answers 500; see [logs](https://logs.example.com/q?id=42).\n\n```json\n{\"error\": \"iban\"}\n```\n\n";
    let mut out = String::with_capacity(bytes + BLOCK.len());
    while out.len() + BLOCK.len() <= bytes {
        out.push_str(BLOCK);
    }
    while out.len() < bytes {
        out.push_str("More detail. ");
    }
    out.truncate(bytes.max(1));
    out
}
