//! `--direct`: the harness without jira-action. After the warm-up (through
//! the server, as in every run) the load generator posts the very create body
//! the server last sent to Jira, taken from the simulator's record, straight
//! to the simulator for the measured phase. It shows what the load generator
//! and the simulator alone reach on this machine and what they cost: the
//! ceiling of any run through the server, which shares the same cores.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Bytes;
use http::HeaderValue;
use jira_sim::Flavor;

use crate::report::{Quantiles, harness_line, per_1000};
use crate::server::ProcStats;
use crate::simserve::marker_digits;

/// A create body with a fresh bench marker per request, so that every issue
/// is the server's body with only the summary's number changed.
struct Template {
    before: String,
    after: String,
}

impl Template {
    fn new(body: &[u8]) -> anyhow::Result<Template> {
        let text = std::str::from_utf8(body).context("the recorded create is not UTF-8")?;
        let digits = marker_digits(body)
            .context("the recorded create has no bench marker in its summary")?;
        Ok(Template {
            before: text[..digits.start].to_owned(),
            after: text[digits.end..].to_owned(),
        })
    }

    fn body(&self, seq: u64) -> String {
        format!("{}{seq}{}", self.before, self.after)
    }
}

/// What the direct phase measured.
pub struct DirectRun {
    pub requests: u64,
    pub created: u64,
    pub elapsed: Duration,
    pub latency: Quantiles,
    pub harness_cpu_secs: f64,
}

/// Posts `recorded` (a create body jira-action sent) to the simulator at
/// `jira_url` as the admin, `concurrency` at a time, for `duration`.
/// Sequence numbers start at `first_seq` so they never repeat the server's.
pub async fn run(
    jira_url: &str,
    flavor: Flavor,
    recorded: &Bytes,
    concurrency: usize,
    duration: Duration,
    first_seq: u64,
) -> anyhow::Result<DirectRun> {
    let template = Arc::new(Template::new(recorded)?);
    let client = crate::load::client()?;
    let version = match flavor {
        Flavor::Cloud => 3,
        Flavor::DataCenter => 2,
    };
    let url = format!("{jira_url}/rest/api/{version}/issue");
    // Encoded once, as the server's client does, not per request.
    let request = client.post(&url);
    let request = match flavor {
        Flavor::Cloud => request.basic_auth(
            jira_sim::demo::ADMIN_EMAIL,
            Some(jira_sim::demo::ADMIN_TOKEN),
        ),
        Flavor::DataCenter => request.bearer_auth(jira_sim::demo::ADMIN_PAT),
    };
    let authorization: HeaderValue = request
        .build()?
        .headers()
        .get(http::header::AUTHORIZATION)
        .cloned()
        .context("reqwest set no Authorization header")?;
    let seq = Arc::new(AtomicU64::new(first_seq));
    let cpu_before = ProcStats::of(std::process::id()).cpu_secs;
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, url, authorization) = (client.clone(), url.clone(), authorization.clone());
        let (template, seq) = (template.clone(), seq.clone());
        tasks.push(tokio::spawn(async move {
            let mut answers: Vec<(u64, bool)> = Vec::new();
            while Instant::now() < deadline {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let start = Instant::now();
                let sent = client
                    .post(&url)
                    .header(http::header::AUTHORIZATION, authorization.clone())
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(template.body(n))
                    .send()
                    .await;
                // The answer is read whole, as the server's client reads it.
                let created = match sent {
                    Ok(response) => {
                        let status = response.status();
                        response.bytes().await.is_ok() && status == http::StatusCode::CREATED
                    }
                    Err(_) => false,
                };
                let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
                answers.push((micros, created));
            }
            answers
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.extend(task.await.unwrap_or_default());
    }
    let elapsed = started.elapsed();
    let harness_cpu_secs = ProcStats::of(std::process::id()).cpu_secs - cpu_before;
    let created = answers.iter().filter(|(_, ok)| *ok).count() as u64;
    Ok(DirectRun {
        requests: answers.len() as u64,
        created,
        elapsed,
        latency: Quantiles::of(
            answers
                .iter()
                .filter(|(_, ok)| *ok)
                .map(|(m, _)| *m)
                .collect(),
        ),
        harness_cpu_secs,
    })
}

impl DirectRun {
    pub fn table(&self, machine: &str, concurrency: usize) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let q = self.latency.0;
        format!(
            "\njira-action bench --direct: the harness alone, no jira-action\n  \
             machine        {machine}\n  \
             run            the server's last create body, posted to the simulator, closed loop, {concurrency} in flight, {secs:.1} s\n\n  \
             requests       {}   created {}   {:.1} issues/s\n  \
             errors         {}\n\n  \
             latency (ms)                      p50       p90       p99       max\n  \
             create on the simulator     {:>9.3} {:>9.3} {:>9.3} {:>9.3}\n\n{}\n",
            self.requests,
            self.created,
            self.created as f64 / secs,
            match self.requests - self.created {
                0 => "none".to_owned(),
                n => format!("{n} requests not answered 201"),
            },
            q[0],
            q[1],
            q[2],
            q[3],
            harness_line(self.harness_cpu_secs, self.created),
        )
    }

    pub fn json(&self, concurrency: usize) -> serde_json::Value {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        serde_json::json!({
            "direct": true,
            "concurrency": concurrency,
            "elapsed_s": secs,
            "requests": self.requests,
            "created": self.created,
            "issues_per_s": self.created as f64 / secs,
            "latency": self.latency.json(),
            "harness": {
                "cpu_s": self.harness_cpu_secs,
                "cpu_s_per_1000_issues": per_1000(self.harness_cpu_secs, self.created),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simserve::MARKER;

    #[test]
    fn each_body_is_the_recorded_one_with_only_the_marker_number_changed() {
        let recorded = format!(
            r#"{{"fields":{{"summary":"{MARKER}417 load test","description":{{"type":"doc"}}}}}}"#
        );
        let template = Template::new(recorded.as_bytes()).unwrap();
        assert_eq!(template.body(417), recorded);
        let next: serde_json::Value = serde_json::from_str(&template.body(1_000_001)).unwrap();
        assert_eq!(
            next["fields"]["summary"],
            format!("{MARKER}1000001 load test")
        );
        assert_eq!(next["fields"]["description"]["type"], "doc");
    }

    #[test]
    fn a_body_without_the_marker_is_refused() {
        assert!(Template::new(br#"{"fields":{"summary":"no marker"}}"#).is_err());
    }
}
