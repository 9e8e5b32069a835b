//! Refused signatures, audited in aggregate: a flood of forged calls must
//! not write one audit row (or one log line) per call. Each refusal is
//! counted in `jira_action_signature_refusals_total{reason}` and in memory;
//! every minute (and at shutdown) one summary record per claimed caller and
//! reason is written, its `count` saying how many calls it stands for.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::http::HeaderMap;

use crate::glean::signature::SignatureError;
use crate::metrics::Metrics;
use crate::store::{self, AuditRecord, Store};

/// The window of one summary record.
pub const WINDOW: Duration = Duration::from_secs(60);

/// The most (caller, reason) pairs kept per window; refusals beyond are
/// counted under no caller, so a flood of made-up callers stays bounded.
const MAX_KEYS: usize = 100;

/// The longest claimed caller kept (an email address is at most 254).
const MAX_CALLER: usize = 254;

/// Unix milliseconds; injected so tests need not wait a minute.
pub use crate::store::Clock;

pub struct Refusals {
    clock: Clock,
    window: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    /// Which minute (Unix ms / 60 000) the counts are of.
    minute: i64,
    counts: BTreeMap<(Option<String>, &'static str), Tally>,
}

struct Tally {
    count: i64,
    /// The (sanitised) request id of the first call, to find it in the log.
    first_request_id: String,
}

impl Default for Refusals {
    fn default() -> Refusals {
        Refusals::with_clock(Arc::new(store::now_ms))
    }
}

impl Refusals {
    pub fn with_clock(clock: Clock) -> Refusals {
        Refusals {
            clock,
            window: Mutex::new(Window::default()),
        }
    }

    /// Counts one refused call. Returns the records of a window that has
    /// ended, for the caller to write.
    pub fn refused(
        &self,
        metrics: &Metrics,
        headers: &HeaderMap,
        reason: &SignatureError,
    ) -> Vec<AuditRecord> {
        let label = reason.label();
        metrics.signature_refused(label);
        let caller =
            super::door::person(headers, super::create_issue::USER_EMAIL, "Glean-User-Email")
                .ok()
                .filter(|c| c.len() <= MAX_CALLER);
        let now = (self.clock)();
        let mut window = self.lock();
        let ended = window.roll(minute_of(now));
        let key = if window.counts.len() < MAX_KEYS
            || window.counts.contains_key(&(caller.clone(), label))
        {
            (caller, label)
        } else {
            (None, label)
        };
        let fresh = !window.counts.contains_key(&key);
        let tally = window.counts.entry(key).or_insert_with(|| Tally {
            count: 0,
            first_request_id: super::door::request_id(headers),
        });
        tally.count += 1;
        if fresh {
            // One line per caller and reason per minute; the rest are in the
            // summary record and the metric.
            tracing::info!(%reason, "signature refused (further ones this minute are counted, not logged)");
        }
        ended
    }

    /// The records of a window that has ended by now (none if the current
    /// one has not).
    pub fn take_ended(&self) -> Vec<AuditRecord> {
        let now = minute_of((self.clock)());
        self.lock().roll(now)
    }

    /// Every record, the current window's included (at shutdown).
    pub fn take_all(&self) -> Vec<AuditRecord> {
        let mut window = self.lock();
        let minute = window.minute;
        window.roll(minute.saturating_add(1))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Window {
    /// Moves to `minute`; the records of the one left, if it ended.
    fn roll(&mut self, minute: i64) -> Vec<AuditRecord> {
        if minute <= self.minute {
            return Vec::new();
        }
        let start_ms = self.minute.saturating_mul(WINDOW_MS);
        self.minute = minute;
        std::mem::take(&mut self.counts)
            .into_iter()
            .map(|((caller, reason), tally)| summary(start_ms, caller, reason, tally))
            .collect()
    }
}

const WINDOW_MS: i64 = WINDOW.as_millis() as i64;

fn minute_of(ms: i64) -> i64 {
    ms.div_euclid(WINDOW_MS)
}

fn summary(at_ms: i64, caller: Option<String>, reason: &str, tally: Tally) -> AuditRecord {
    let error = super::Error::InvalidSignature;
    AuditRecord {
        id: uuid::Uuid::now_v7().to_string(),
        at_ms,
        at: store::rfc3339(at_ms),
        request_id: tally.first_request_id,
        caller,
        signature: "invalid".to_owned(),
        outcome: store::Outcome::Refused,
        front_door: crate::tools::FrontDoor::Glean.as_str().to_owned(),
        operation: "create_issue".to_owned(),
        status: i64::from(error.status().as_u16()),
        error: Some(error.code().to_owned()),
        count: Some(tally.count),
        reason: Some(reason.to_owned()),
        ..AuditRecord::default()
    }
}

/// Writes summary records; a failure is logged (the counts are also in the
/// metric).
pub async fn write(store: &Store, records: Vec<AuditRecord>) {
    for record in records {
        if let Err(err) = store.record(&record).await {
            tracing::error!(cause = %err, "cannot write the refused-signature summary");
        }
    }
}

/// Writes each minute's summary once it has ended.
pub async fn flush_every_minute(refusals: Arc<Refusals>, store: Store) {
    loop {
        tokio::time::sleep(WINDOW).await;
        write(&store, refusals.take_ended()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::super::REQUEST_ID;
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    fn headers(caller: &str, id: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("glean-user-email", caller.parse().expect("header"));
        headers.insert(REQUEST_ID, id.parse().expect("header"));
        headers
    }

    #[test]
    fn one_record_per_caller_and_reason_per_minute() {
        let now = Arc::new(AtomicI64::new(1_800_000_000_000));
        let clock = Arc::clone(&now);
        let refusals = Refusals::with_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
        let metrics = Metrics::default();
        for n in 0..50 {
            let written = refusals.refused(
                &metrics,
                &headers("alice@example.com", &format!("a-{n}")),
                &SignatureError::Expired,
            );
            assert!(written.is_empty());
        }
        refusals.refused(
            &metrics,
            &headers("bob@example.com", "b"),
            &SignatureError::Expired,
        );
        refusals.refused(
            &metrics,
            &headers("bob@example.com", "b"),
            &SignatureError::Missing,
        );
        assert!(refusals.take_ended().is_empty(), "the minute has not ended");

        now.fetch_add(60_000, Ordering::SeqCst);
        let mut records = refusals.take_ended();
        records.sort_by(|a, b| (&a.caller, &a.reason).cmp(&(&b.caller, &b.reason)));
        let summary: Vec<_> = records
            .iter()
            .map(|r| (r.caller.as_deref(), r.reason.as_deref(), r.count, r.status))
            .collect();
        assert_eq!(
            summary,
            [
                (Some("alice@example.com"), Some("expired"), Some(50), 401),
                (Some("bob@example.com"), Some("expired"), Some(1), 401),
                (Some("bob@example.com"), Some("missing"), Some(1), 401),
            ]
        );
        assert_eq!(records[0].request_id, "a-0");
        assert_eq!(
            metrics.value(
                "jira_action_signature_refusals_total",
                &[("reason", "expired")]
            ),
            Some(51.0)
        );
        assert!(refusals.take_ended().is_empty(), "written once");
        refusals.refused(
            &metrics,
            &headers("carol@example.com", "c"),
            &SignatureError::Expired,
        );
        assert_eq!(
            refusals.take_all().len(),
            1,
            "shutdown writes the open minute"
        );
    }

    #[test]
    fn made_up_callers_share_one_record_past_the_cap() {
        let refusals = Refusals::with_clock(Arc::new(|| 0));
        let metrics = Metrics::default();
        for n in 0..1_000 {
            let caller = format!("user{n}@example.com");
            refusals.refused(
                &metrics,
                &headers(&caller, "x"),
                &SignatureError::BadSignature,
            );
        }
        let records = refusals.take_all();
        assert_eq!(records.len(), MAX_KEYS + 1);
        let total: i64 = records.iter().filter_map(|r| r.count).sum();
        assert_eq!(total, 1_000);
    }
}
