//! The numbers of a run: one aligned table, and the same as JSON.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use jira_sim::Endpoint;
use serde_json::{Value, json};

use crate::faults::Check;
use crate::load::Outcome;
use crate::server::ProcStats;
use crate::simserve::{Call, Owner};
use crate::{Caller, Opts};

pub struct Inputs<'a> {
    pub opts: &'a Opts,
    pub machine: &'a str,
    pub store: bool,
    pub ready_after: Duration,
    pub elapsed: Duration,
    pub outcomes: &'a [Outcome],
    pub calls: &'a [Call],
    pub sim_totals: &'a [(Endpoint, u64)],
    pub before: ProcStats,
    pub after: ProcStats,
    /// CPU of this process (load generator and simulator) over the run.
    pub harness_cpu_secs: f64,
    pub checks: &'a [Check],
    pub callers: &'a [Caller],
    pub cold_pool_exhausted: bool,
    /// Requests and Jira calls of the warm-up, where shared metadata is
    /// fetched.
    pub warmup: (usize, &'a [Call]),
}

/// p50, p90, p99, max in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Quantiles(pub(crate) [f64; 4]);

impl Quantiles {
    pub(crate) fn of(mut micros: Vec<u64>) -> Quantiles {
        if micros.is_empty() {
            return Quantiles::default();
        }
        micros.sort_unstable();
        let at = |p: f64| {
            let i = ((p * micros.len() as f64).ceil() as usize).clamp(1, micros.len()) - 1;
            micros[i] as f64 / 1000.0
        };
        Quantiles([at(0.50), at(0.90), at(0.99), at(1.0)])
    }

    pub(crate) fn json(self) -> Value {
        json!({"p50_ms": self.0[0], "p90_ms": self.0[1], "p99_ms": self.0[2], "max_ms": self.0[3]})
    }
}

/// CPU seconds per 1,000 issues (0 when none were created).
pub(crate) fn per_1000(cpu_secs: f64, issues: u64) -> f64 {
    if issues > 0 {
        cpu_secs / issues as f64 * 1000.0
    } else {
        0.0
    }
}

/// The table's line for the bench process's own CPU.
pub(crate) fn harness_line(cpu_secs: f64, issues: u64) -> String {
    format!(
        "  harness        CPU {cpu_secs:.2} s = {:.3} s per 1,000 issues (load generator and simulator, one process)",
        per_1000(cpu_secs, issues)
    )
}

/// Calls to one endpoint, by who caused them.
#[derive(Clone, Copy, Debug, Default)]
struct EndpointCalls {
    cold: u64,
    warm: u64,
    shared: u64,
}

pub struct Report {
    json: Value,
    table: String,
}

impl Report {
    pub fn build(i: Inputs<'_>) -> Report {
        let o = i.opts;
        let secs = i.elapsed.as_secs_f64().max(1e-9);
        let created: Vec<&Outcome> = i.outcomes.iter().filter(|r| r.status == 200).collect();
        let cold_issues = created.iter().filter(|r| r.cold).count() as u64;
        let warm_issues = created.len() as u64 - cold_issues;

        let mut errors: BTreeMap<String, u64> = BTreeMap::new();
        for r in i.outcomes.iter().filter(|r| r.status != 200) {
            let code = match (&r.code, r.status) {
                (_, 0) => "(no answer)".to_owned(),
                (Some(c), s) => format!("{s} {c}"),
                (None, s) => format!("{s} (no code)"),
            };
            *errors.entry(code).or_default() += 1;
        }

        // Jira time per request: its creates (by the summary's marker) and,
        // for a cold caller, the lookups of its email.
        let by_seq: HashMap<u64, &Outcome> = i.outcomes.iter().map(|r| (r.seq, r)).collect();
        let cold_email: HashMap<&str, u64> = i
            .outcomes
            .iter()
            .filter(|r| r.cold)
            .map(|r| (i.callers[r.caller].email.as_str(), r.seq))
            .collect();
        let mut jira_micros: HashMap<u64, u64> = HashMap::new();
        let mut per_endpoint: BTreeMap<&str, EndpointCalls> = BTreeMap::new();
        let mut unmatched = 0u64;
        for c in i.calls {
            let e = per_endpoint.entry(c.endpoint).or_default();
            let owner = match &c.owner {
                Owner::Request(seq) => by_seq.get(seq).map(|r| (r.seq, r.cold)),
                Owner::Email(email) => match cold_email.get(email.as_str()) {
                    Some(seq) => Some((*seq, true)),
                    // A warm caller's lookup (its cache entry expired):
                    // counted as warm, its time is not subtracted.
                    None => {
                        e.warm += 1;
                        continue;
                    }
                },
                Owner::Shared => None,
            };
            match owner {
                Some((seq, cold)) => {
                    if cold {
                        e.cold += 1;
                    } else {
                        e.warm += 1;
                    }
                    *jira_micros.entry(seq).or_default() += c.micros;
                }
                None if c.owner == Owner::Shared => e.shared += 1,
                // A create from a request of the warm-up still in flight.
                None => unmatched += 1,
            }
        }

        let answered: Vec<&Outcome> = i.outcomes.iter().filter(|r| r.status != 0).collect();
        let whole = Quantiles::of(answered.iter().map(|r| r.micros).collect());
        // What the server waited for Jira, as it says (Server-Timing), and
        // failing that what the simulator spent on the request's calls.
        let jira_of = |r: &Outcome| {
            r.server_jira_micros
                .unwrap_or_else(|| jira_micros.get(&r.seq).copied().unwrap_or(0))
        };
        let added_of = |rs: &mut dyn Iterator<Item = &&Outcome>| {
            Quantiles::of(rs.map(|r| r.micros.saturating_sub(jira_of(r))).collect())
        };
        let added = added_of(&mut created.iter());
        let added_warm = added_of(&mut created.iter().filter(|r| !r.cold));
        let added_cold = added_of(&mut created.iter().filter(|r| r.cold));
        let jira = Quantiles::of(created.iter().map(|r| jira_of(r)).collect());
        // The upper bound: only the simulator's own serving time is Jira's,
        // the hop there and back counts as added.
        let added_with_hop = Quantiles::of(
            created
                .iter()
                .map(|r| {
                    r.micros
                        .saturating_sub(jira_micros.get(&r.seq).copied().unwrap_or(0))
                })
                .collect(),
        );
        let inside = Quantiles::of(created.iter().filter_map(|r| r.server_app_micros).collect());
        let in_store = Quantiles::of(
            created
                .iter()
                .filter_map(|r| r.server_store_micros)
                .collect(),
        );

        let issues = created.len() as u64;
        let cpu = i.after.cpu_secs - i.before.cpu_secs;
        let cpu_per_1000 = per_1000(cpu, issues);
        let mib = |k: u64| k as f64 / 1024.0;
        let rate = match o.rate {
            Some(r) => format!("open loop {r} req/s (≤ {} in flight)", o.concurrency),
            None => format!("closed loop, {} in flight", o.concurrency),
        };
        let per = |n: u64, d: u64| if d == 0 { 0.0 } else { n as f64 / d as f64 };

        // The table.
        let mut t = String::new();
        let _ = writeln!(t, "\njira-action bench");
        let _ = writeln!(t, "  machine        {}", i.machine);
        let _ = writeln!(
            t,
            "  run            {} users, Jira latency {} ms, {rate}, {:.1} s measured{}",
            o.users,
            o.jira_latency_ms,
            secs,
            if o.faults { ", FAULTS" } else { "" }
        );
        let _ = writeln!(
            t,
            "  mix            {} warm callers, {:.0}% cold{}, {} B Markdown",
            o.callers,
            o.cold_share * 100.0,
            if i.cold_pool_exhausted {
                " (the pool of new callers ran out: later picks were warm)"
            } else {
                ""
            },
            o.markdown_bytes
        );
        let _ = writeln!(
            t,
            "  server         {}, store+audit {}, start-up to ready {:.0} ms",
            match o.front_door.as_str() {
                "mcp" => "MCP door (/mcp, API key)",
                _ => "Glean door (signatures on)",
            },
            if i.store {
                "on (SQLite)"
            } else {
                "n/a in this build"
            },
            i.ready_after.as_secs_f64() * 1000.0
        );
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "  requests       {}   created {} ({} cold, {} warm)   {:.1} issues/s",
            i.outcomes.len(),
            issues,
            cold_issues,
            warm_issues,
            issues as f64 / secs
        );
        if errors.is_empty() {
            let _ = writeln!(t, "  errors         none");
        } else {
            let list: Vec<String> = errors.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            let _ = writeln!(t, "  errors         {}", list.join(", "));
        }
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "  latency (ms)                      p50       p90       p99       max"
        );
        for (name, q) in [
            ("whole request", whole),
            ("waiting for Jira (created) ¹", jira),
            ("added by jira-action ¹", added),
            ("  warm callers", added_warm),
            ("  cold callers", added_cold),
            ("  inside the handler ³", inside),
            ("    of which the store", in_store),
            ("  hop to Jira counted too ⁴", added_with_hop),
        ] {
            let _ = writeln!(
                t,
                "  {name:<28}{:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                q.0[0], q.0[1], q.0[2], q.0[3]
            );
        }
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "  Jira calls per created issue       cold      warm    shared ²"
        );
        for (name, e) in &per_endpoint {
            let _ = writeln!(
                t,
                "  {name:<28}{:>10.3}{:>10.3}{:>10}",
                per(e.cold, cold_issues),
                per(e.warm, warm_issues),
                e.shared
            );
        }
        let total = per_endpoint
            .values()
            .fold(EndpointCalls::default(), |a, e| EndpointCalls {
                cold: a.cold + e.cold,
                warm: a.warm + e.warm,
                shared: a.shared + e.shared,
            });
        let _ = writeln!(
            t,
            "  {:<28}{:>10.3}{:>10.3}{:>10}",
            "all",
            per(total.cold, cold_issues),
            per(total.warm, warm_issues),
            total.shared
        );
        let sim_total: u64 = i.sim_totals.iter().map(|(_, n)| n).sum();
        let recorded = i.calls.len() as u64;
        if sim_total != recorded || unmatched > 0 {
            let _ = writeln!(
                t,
                "  (simulator counted {sim_total} calls, the timing layer {recorded}: calls whose client gave up are not timed; {unmatched} from warm-up requests)"
            );
        }
        let mut shared: BTreeMap<&str, u64> = BTreeMap::new();
        for c in i.warmup.1.iter().filter(|c| c.owner == Owner::Shared) {
            *shared.entry(c.endpoint).or_default() += 1;
        }
        let list: Vec<String> = shared.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(
            t,
            "  warm-up ({} requests, each warm caller at least once): shared calls {}",
            i.warmup.0,
            if list.is_empty() {
                "none".to_owned()
            } else {
                list.join(", ")
            }
        );
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "  server         peak RSS {:.1} MiB (RSS {:.1} → {:.1} MiB), CPU {:.2} s = {:.3} s per 1,000 issues",
            mib(i.after.peak_rss_kib),
            mib(i.before.rss_kib),
            mib(i.after.rss_kib),
            cpu,
            cpu_per_1000
        );
        let _ = writeln!(t, "{}", harness_line(i.harness_cpu_secs, issues));
        if !i.checks.is_empty() {
            let _ = writeln!(t);
            for c in i.checks {
                let _ = writeln!(t, "  {:<4} {}: {}", c.status.label(), c.name, c.detail);
            }
        }
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "  ¹ per created issue: whole − the time the server waited for Jira (its calls and\n    back-off, from its Server-Timing header)."
        );
        let _ = writeln!(
            t,
            "  ² calls no single request owns (project and create metadata, cached per TTL): totals."
        );
        let _ = writeln!(
            t,
            "  ³ the server's own account (its Server-Timing `app`): from the handler's start to its\n    answer, minus its Jira calls; leaves out reading and writing the HTTP messages and\n    time queued in the kernel and the runtime before the handler starts."
        );
        let _ = writeln!(
            t,
            "  ⁴ whole − Σ time the simulator spent serving the request's own Jira calls (its create,\n    found by the summary's marker, and a cold caller's user lookup, found by the email),\n    measured around the simulator's router: the loopback hop to Jira and back counts as\n    added. An upper bound."
        );

        let json = json!({
            "machine": i.machine,
            "options": {
                "users": o.users,
                "jira_latency_ms": o.jira_latency_ms,
                "concurrency": o.concurrency,
                "rate": o.rate,
                "duration_s": o.duration.as_secs_f64(),
                "callers": o.callers,
                "cold_share": o.cold_share,
                "markdown_bytes": o.markdown_bytes,
                "faults": o.faults,
                "store": i.store,
            },
            "startup_to_ready_ms": i.ready_after.as_secs_f64() * 1000.0,
            "measured_s": secs,
            "requests": i.outcomes.len(),
            "created": issues,
            "created_cold": cold_issues,
            "created_warm": warm_issues,
            "issues_per_s": issues as f64 / secs,
            "errors": errors,
            "latency": {
                "whole": whole.json(),
                "jira": jira.json(),
                "added": added.json(),
                "added_warm": added_warm.json(),
                "added_cold": added_cold.json(),
                "inside_server": inside.json(),
                "inside_server_store": in_store.json(),
                "added_with_hop": added_with_hop.json(),
            },
            "jira_calls_per_issue": per_endpoint.iter().map(|(k, e)| (k.to_string(), json!({
                "cold": per(e.cold, cold_issues),
                "warm": per(e.warm, warm_issues),
                "shared_total": e.shared,
            }))).collect::<serde_json::Map<_, _>>(),
            "jira_calls_total": sim_total,
            "warmup": {"requests": i.warmup.0, "shared_calls": shared},
            "server": {
                "peak_rss_mib": mib(i.after.peak_rss_kib),
                "rss_start_mib": mib(i.before.rss_kib),
                "rss_end_mib": mib(i.after.rss_kib),
                "cpu_s": cpu,
                "cpu_s_per_1000_issues": cpu_per_1000,
            },
            "harness": {
                "cpu_s": i.harness_cpu_secs,
                "cpu_s_per_1000_issues": per_1000(i.harness_cpu_secs, issues),
            },
            "checks": i.checks.iter().map(|c| json!({
                "name": c.name, "status": c.status.label(), "detail": c.detail,
            })).collect::<Vec<_>>(),
        });
        Report { json, table: t }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn json(&self) -> &Value {
        &self.json
    }
}
