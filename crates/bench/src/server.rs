//! The jira-action server as a child process: start-up, readiness and what
//! /proc says about its memory and CPU.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The release binary next to the bench's own executable (both are built
/// into the same target directory).
pub fn binary() -> anyhow::Result<PathBuf> {
    let path = std::env::current_exe()?.with_file_name("jira-action");
    if !path.exists() {
        bail!(
            "{} is missing: run `cargo build --release -p jira-action` first",
            path.display()
        );
    }
    Ok(path)
}

/// A running server.
pub struct Server {
    pub child: Child,
    pub pid: u32,
    pub url: String,
    /// From spawning the process to the first `200` from `/healthz`.
    pub ready_after: Duration,
}

impl Server {
    /// Starts `binary serve --config config` and waits until it is ready.
    pub async fn start(binary: &Path, config: &Path, log: &Path) -> anyhow::Result<Server> {
        let stderr = std::fs::File::create(log)?;
        let started = Instant::now();
        let mut child = Command::new(binary)
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env("JIRA_ACTION_API_TOKEN", jira_sim::demo::ADMIN_TOKEN)
            .env("JIRA_ACTION_JIRA_PAT", jira_sim::demo::ADMIN_PAT)
            .env("JIRA_ACTION_MCP_API_KEYS", crate::load::MCP_KEY)
            .env(
                "RUST_LOG",
                std::env::var("BENCH_SERVER_LOG").unwrap_or("info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let pid = child.id().context("the server exited at once")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .context("the server did not say where it listens within 30 s")??;
            match line {
                Some(line) => {
                    if let Some(url) = line.strip_prefix("jira-action listening on ") {
                        break url.trim().to_owned();
                    }
                }
                None => {
                    let _ = child.wait().await;
                    bail!("the server exited before listening:\n{}", tail(log, 20));
                }
            }
        };
        // Keep draining stdout so the server never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let client = reqwest::Client::new();
        let health = format!("{url}/healthz");
        loop {
            if let Ok(r) = client.get(&health).send().await
                && r.status().is_success()
            {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("/healthz did not answer 200 within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(Server {
            child,
            pid,
            url,
            ready_after: started.elapsed(),
        })
    }

    pub fn stats(&self) -> ProcStats {
        ProcStats::of(self.pid)
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// The last `n` lines of a file.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Memory and CPU of a process, from /proc.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcStats {
    pub rss_kib: u64,
    /// The peak resident set (`VmHWM`).
    pub peak_rss_kib: u64,
    pub cpu_secs: f64,
}

impl ProcStats {
    pub fn of(pid: u32) -> ProcStats {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command name, which is in parentheses and may
        // contain spaces: utime and stime are the 14th and 15th fields.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let cpu_ticks = ticks(11) + ticks(12);
        ProcStats {
            rss_kib: field("VmRSS:"),
            peak_rss_kib: field("VmHWM:"),
            cpu_secs: cpu_ticks as f64 / clock_ticks(),
        }
    }
}

/// `sysconf(_SC_CLK_TCK)` via getconf; 100 (Linux's) if that fails.
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// "model name, N cores" from /proc/cpuinfo.
pub fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim())
        })
        .unwrap_or("unknown CPU")
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{model}, {cores} cores")
}
