//! Durable state: idempotency claims, the audit trail, the OAuth connection
//! and sign-in.
//!
//! One interface, [`Store`], with one driver per backend: SQLite through
//! rusqlite (`sqlite/`: the default, a local file in WAL mode, written by
//! one group-commit writer) and PostgreSQL through sqlx (`postgres.rs`:
//! shared by several jira-action processes, which is how the guarantees
//! hold across machines). The SQL of each operation is written once per
//! backend; what is not SQL (the idempotency decision, the single-use rules
//! of sign-in, the audit filter) lives here, once. Times are Unix
//! milliseconds in BIGINT columns; the one migration set in `migrations/`
//! is embedded and run at start-up by each driver's own migrator.

pub mod postgres;
mod signin;
pub mod sqlite;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::oauth::OAuthRow;
use postgres::Postgres;
use sqlite::Sqlite;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid store url: {0}")]
    InvalidUrl(String),
    #[error("store: {0}")]
    Database(#[from] sqlx::Error),
    #[error("store migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("store: {0}")]
    Sqlite(String),
    #[error("store: {0}")]
    Io(String),
}

/// The configured database.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(Sqlite),
    Postgres(Postgres),
}

/// Calls the same method on whichever backend the store has.
macro_rules! dispatch {
    ($store:expr, $method:ident ( $($arg:expr),* $(,)? )) => {
        match $store {
            Store::Sqlite(backend) => backend.$method($($arg),*).await,
            Store::Postgres(backend) => backend.$method($($arg),*).await,
        }
    };
}
use dispatch;

/// What a request learns when it tries to claim its identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// This request holds the identity and goes ahead. `recovering` when an
    /// earlier attempt may have reached Jira (it died holding the lease, or
    /// its outcome was unknown): look for the issue before creating it.
    Claimed { recovering: bool },
    /// A request with this identity finished within the window: its answer.
    Done { status: u16, answer: String },
    /// Another request holds it and its lease has not run out.
    Pending,
    /// The same identity (an `Idempotency-Key`) with different fields.
    Reused,
    /// An earlier attempt's create has an unknown outcome and may still be
    /// landing in Jira: nobody looks for it before `until_ms`.
    Settling { until_ms: i64 },
}

/// How a claimed request ends.
#[derive(Clone, Debug)]
pub enum Finish {
    /// Store the answer; repeats within the window get it back.
    Done { status: u16, answer: String },
    /// Jira may or may not have created the issue: the next attempt takes
    /// over from `settle_until` (Unix milliseconds; an earlier, later one
    /// is kept) and looks for the issue before creating.
    Uncertain { settle_until: i64 },
    /// Nothing was created and nothing is worth replaying: forget the
    /// claim, so that a corrected or later retry runs afresh.
    Release,
}

/// One identity to claim.
#[derive(Clone, Debug)]
pub struct ClaimRequest<'a> {
    pub key: &'a str,
    pub caller: &'a str,
    pub fingerprint: &'a str,
    /// A token unique to this attempt; only its holder may finish it.
    pub owner: &'a str,
    pub lease: Duration,
    pub window: Duration,
    /// The time of the claim (Unix milliseconds): what leases, windows and
    /// settle times are compared with. The caller's clock, so that tests
    /// can move it.
    pub now_ms: i64,
}

impl ClaimRequest<'_> {
    /// Until when a claimed row blocks others.
    fn lease_until(&self) -> i64 {
        self.now_ms.saturating_add(millis(self.lease))
    }

    /// The end of the claim's idempotency window.
    fn expires_at(&self) -> i64 {
        self.now_ms.saturating_add(millis(self.window))
    }
}

/// One request to `POST /create_issue`, as the audit trail keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: String,
    /// Unix milliseconds.
    #[serde(skip)]
    #[sqlx(rename = "at")]
    pub at_ms: i64,
    /// RFC 3339, for people and `--format json|csv`.
    #[sqlx(skip)]
    pub at: String,
    pub request_id: String,
    pub caller: Option<String>,
    pub signature: String,
    pub idempotency_key: Option<String>,
    pub reporter: Option<String>,
    pub assignee: Option<String>,
    pub project: Option<String>,
    pub issue_type: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    #[sqlx(try_from = "String")]
    pub outcome: Outcome,
    pub status: i64,
    pub issue_key: Option<String>,
    pub issue_url: Option<String>,
    pub error: Option<String>,
    pub jira_calls: i64,
    pub latency_ms: i64,
    /// `glean` or `mcp`.
    pub front_door: String,
    /// The MCP client's name, where it gave one.
    pub client: Option<String>,
    /// The tool called, e.g. `create_issue`.
    pub operation: String,
    /// A summary record (refused signatures): how many calls it stands for.
    pub count: Option<i64>,
    /// A summary record: why those calls were refused.
    pub reason: Option<String>,
}

/// The columns of `audit`, in [`AuditRecord`]'s order.
const AUDIT_COLUMNS: &str = "id, at, request_id, caller, signature, idempotency_key, reporter, \
    assignee, project, issue_type, summary, description, outcome, status, issue_key, issue_url, \
    error, jira_calls, latency_ms, front_door, client, operation, count, reason";

/// How a request ended, as the audit trail keeps it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    /// A repeat, answered with the first request's answer.
    Replayed,
    #[default]
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Replayed => "replayed",
            Outcome::Refused => "refused",
        }
    }

    /// Reads the stored form; anything else is a record this version did
    /// not write, kept as refused rather than failing the whole read.
    pub fn parse(stored: &str) -> Outcome {
        match stored {
            "created" => Outcome::Created,
            "replayed" => Outcome::Replayed,
            _ => Outcome::Refused,
        }
    }
}

/// The stored form, as a row type reads it (see [`Outcome::parse`]).
impl From<String> for Outcome {
    fn from(stored: String) -> Outcome {
        Outcome::parse(&stored)
    }
}

/// So that a record's outcome compares with its stored spelling.
impl PartialEq<&str> for Outcome {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which audit records to read.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Unix milliseconds; records at or after.
    pub since_ms: i64,
    pub caller: Option<String>,
    pub limit: i64,
}

impl AuditFilter {
    /// The query, with parameters `{p}1` (since), `{p}2` (limit) and, when
    /// filtered by caller, `{p}3` (see [`AuditFilter::caller`]): `p` is the
    /// backend's placeholder sigil (`?` for SQLite, `$` for PostgreSQL).
    fn sql(&self, p: char) -> String {
        let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE at >= {p}1");
        if self.caller.is_some() {
            sql.push_str(&format!(" AND caller = {p}3"));
        }
        sql.push_str(&format!(" ORDER BY at, id LIMIT {p}2"));
        sql
    }

    /// Callers are stored lowercased.
    fn caller(&self) -> Option<String> {
        self.caller.as_deref().map(str::to_lowercase)
    }

    /// 0 (or less) is no limit.
    fn limit(&self) -> i64 {
        if self.limit > 0 { self.limit } else { i64::MAX }
    }
}

/// Where "now" comes from (Unix milliseconds): [`now_ms`] in service,
/// a value a test moves by hand otherwise.
pub type Clock = std::sync::Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock as a [`Clock`].
pub fn system_clock() -> Clock {
    std::sync::Arc::new(now_ms)
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

pub fn rfc3339(ms: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or_default());
    humantime::format_rfc3339_millis(time).to_string()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Said when `store.url` names an in-memory database: every write goes
/// through the file's single writer, and a store that vanishes with the
/// process would forget the claims it exists to keep.
const IN_MEMORY: &str = "an in-memory SQLite store is not supported: give a file path";

/// `postgres://` and `postgresql://` are PostgreSQL; `sqlite://PATH`,
/// `sqlite:PATH` and plain paths are SQLite files (created if missing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Postgres(String),
    Sqlite(PathBuf),
}

impl Location {
    pub fn parse(url: &str) -> Result<Location, StoreError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(StoreError::InvalidUrl("empty".into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Location::Postgres(url.to_owned()));
        }
        let (path, query) = match url.strip_prefix("sqlite:") {
            Some(rest) => {
                let rest = rest.strip_prefix("//").unwrap_or(rest);
                rest.split_once('?').unwrap_or((rest, ""))
            }
            None if url.contains("://") => {
                return Err(StoreError::InvalidUrl(
                    "expected postgres://…, sqlite://… or a file path".into(),
                ));
            }
            None => (url, ""),
        };
        let memory = query.split('&').any(|pair| pair == "mode=memory");
        if path.is_empty() || path == ":memory:" || memory {
            return Err(StoreError::InvalidUrl(IN_MEMORY.into()));
        }
        Ok(Location::Sqlite(PathBuf::from(path)))
    }
}

impl Store {
    /// Connects (creating an SQLite file if missing) and runs the migrations.
    pub async fn open(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        let max_connections = max_connections.max(1);
        Ok(match Location::parse(url)? {
            Location::Postgres(url) => {
                Store::Postgres(Postgres::open(&url, max_connections).await?)
            }
            Location::Sqlite(path) => Store::Sqlite(Sqlite::open(&path, max_connections).await?),
        })
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// One attempt to claim an identity; never waits (the caller polls
    /// while the answer is `Pending`).
    pub async fn claim(&self, request: &ClaimRequest<'_>) -> Result<Claim, StoreError> {
        dispatch!(self, claim(request))
    }

    /// Ends a claim and writes the request's audit record, together.
    /// Returns false when the claim had been taken over (our lease ran out).
    pub async fn finish(
        &self,
        key: &str,
        owner: &str,
        finish: &Finish,
        window: Duration,
        record: &AuditRecord,
    ) -> Result<bool, StoreError> {
        dispatch!(self, finish(key, owner, finish, window, record))
    }

    /// Writes the audit record of a request that claimed nothing.
    pub async fn record(&self, record: &AuditRecord) -> Result<(), StoreError> {
        dispatch!(self, record(record))
    }

    /// Audit records, oldest first.
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let mut records = dispatch!(self, audit(filter))?;
        for record in &mut records {
            record.at = rfc3339(record.at_ms);
        }
        Ok(records)
    }

    /// Deletes audit records older than `retention` and idempotency rows
    /// whose window and lease are both over. Returns (audit, idempotency)
    /// rows deleted.
    pub async fn purge(&self, retention: Duration) -> Result<(u64, u64), StoreError> {
        let now = now_ms();
        let cutoff = now.saturating_sub(millis(retention));
        dispatch!(self, purge(cutoff, now))
    }

    /// A consistent copy of an SQLite store, taken while it is in use.
    pub async fn backup(&self, path: &Path) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(sqlite) => sqlite.backup(path).await,
            Store::Postgres(_) => Err(StoreError::Unsupported(
                "the store is PostgreSQL: back it up with pg_dump (see the README), not jira-action backup",
            )),
        }
    }

    /// Closes the connections (waits for those in use) once what is queued
    /// is written; later operations fail.
    pub async fn close(&self) {
        dispatch!(self, close())
    }

    pub async fn oauth_get(&self) -> Result<Option<OAuthRow>, StoreError> {
        dispatch!(self, oauth_get())
    }

    /// Writes a new connection (after `oauth login`), replacing any other.
    pub async fn oauth_put(&self, row: &OAuthRow) -> Result<(), StoreError> {
        dispatch!(self, oauth_put(row))
    }

    /// Takes the refresh lease until `until_ms` unless another holder's is
    /// still running at `now_ms` (the caller's clock). True when this
    /// holder has it.
    pub async fn oauth_try_lease(
        &self,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        dispatch!(self, oauth_try_lease(holder, now_ms, until_ms))
    }

    /// Stores refreshed tokens and gives the lease back, in one statement,
    /// only while `holder` still has the lease. False when it had lost it.
    /// `refreshed_at_ms` is the caller's clock.
    pub async fn oauth_store_refreshed(
        &self,
        holder: &str,
        access_token: &str,
        refresh_token: Option<&str>,
        expires_at_ms: i64,
        refreshed_at_ms: i64,
    ) -> Result<bool, StoreError> {
        dispatch!(
            self,
            oauth_store_refreshed(
                holder,
                access_token,
                refresh_token,
                expires_at_ms,
                refreshed_at_ms
            )
        )
    }

    /// Marks `access_token` (sealed, as stored) expired at `now` (the
    /// caller's clock), if it is still the stored one and not already
    /// expired; says whether it was.
    pub async fn oauth_expire(&self, access_token: &str, now: i64) -> Result<bool, StoreError> {
        dispatch!(self, oauth_expire(access_token, now))
    }

    /// Ends the lease, recording `status` (e.g. re-consent needed).
    pub async fn oauth_release(
        &self,
        holder: &str,
        status: Option<&str>,
    ) -> Result<(), StoreError> {
        dispatch!(self, oauth_release(holder, status))
    }
}

/// The OAuth connection row's fixed id: one Jira connection per deployment.
const OAUTH_ID: &str = "jira";

/// What an existing idempotency row means for a new claim.
enum Decision {
    /// Answer this, without taking the row.
    Answer(Claim),
    /// Take the row over; `recovering` when an earlier attempt may have
    /// reached Jira.
    TakeOver { recovering: bool },
}

/// The one rule for an identity already in the store, on every backend.
fn decide(existing: &Existing, fingerprint: &str, now: i64) -> Decision {
    let same_fields = existing.fingerprint == fingerprint;
    let recovering = if existing.expires_at <= now {
        // The window is over: a new request, unless an attempt with these
        // very fields may have reached Jira.
        existing.state != "done" && same_fields
    } else if !same_fields {
        return Decision::Answer(Claim::Reused);
    } else if existing.state == "done" {
        return Decision::Answer(Claim::Done {
            status: u16::try_from(existing.status.unwrap_or(200)).unwrap_or(200),
            answer: existing.answer.clone().unwrap_or_default(),
        });
    } else if existing.state == "pending" && existing.lease_until > now {
        return Decision::Answer(Claim::Pending);
    } else if existing.state == "uncertain"
        && let Some(until_ms) = existing.settle_until.filter(|until| *until > now)
    {
        // The create may still land, or search not see it yet: looking now
        // could miss it and create a duplicate.
        return Decision::Answer(Claim::Settling { until_ms });
    } else {
        // Pending past its lease (its holder died) or uncertain.
        true
    };
    Decision::TakeOver { recovering }
}

/// The columns of an existing idempotency row that decide a claim.
#[derive(sqlx::FromRow)]
struct Existing {
    state: String,
    owner: String,
    fingerprint: String,
    lease_until: i64,
    expires_at: i64,
    status: Option<i64>,
    answer: Option<String>,
    /// An uncertain row is not taken over before then.
    settle_until: Option<i64>,
}

/// The columns [`Existing`] reads.
const EXISTING_COLUMNS: &str =
    "state, owner, fingerprint, lease_until, expires_at, status, answer, settle_until";

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(key: &'a str, fingerprint: &'a str, owner: &'a str) -> ClaimRequest<'a> {
        ClaimRequest {
            key,
            caller: "alice@example.com",
            fingerprint,
            owner,
            lease: Duration::from_secs(60),
            window: Duration::from_secs(600),
            now_ms: now_ms(),
        }
    }

    #[test]
    fn tells_locations_apart() {
        assert!(matches!(
            Location::parse("postgres://u@h/db"),
            Ok(Location::Postgres(_))
        ));
        assert_eq!(
            Location::parse("sqlite:///var/lib/x.db").ok(),
            Some(Location::Sqlite("/var/lib/x.db".into()))
        );
        assert_eq!(
            Location::parse("sqlite://data/x.db?mode=rwc").ok(),
            Some(Location::Sqlite("data/x.db".into()))
        );
        assert_eq!(
            Location::parse("sqlite:x.db").ok(),
            Some(Location::Sqlite("x.db".into()))
        );
        assert_eq!(
            Location::parse("data/x.db").ok(),
            Some(Location::Sqlite("data/x.db".into()))
        );
        assert!(Location::parse("mysql://h/db").is_err());
        assert!(Location::parse(" ").is_err());
    }

    /// Every write goes through the file's writer: there is no in-memory
    /// store, and saying so names the fix.
    #[test]
    fn an_in_memory_store_is_refused() {
        for url in [
            "sqlite::memory:",
            ":memory:",
            "sqlite://:memory:",
            "sqlite://x.db?mode=memory",
        ] {
            let refused = Location::parse(url).expect_err(url).to_string();
            assert!(refused.contains(IN_MEMORY), "{url}: {refused}");
        }
    }

    /// The store under test: a file (through the single writer); the
    /// directory must outlive the store.
    async fn stores() -> Vec<(Store, Option<tempfile::TempDir>)> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.db");
        let file = Store::open(path.to_str().expect("utf-8"), 2)
            .await
            .expect("opens");
        assert!(matches!(file, Store::Sqlite(_)), "a file is SQLite");
        vec![(file, Some(dir))]
    }

    #[tokio::test]
    async fn claims_replays_and_refuses_reuse() {
        for (store, _dir) in stores().await {
            claims_replays_and_refuses_reuse_on(store).await;
        }
    }

    async fn claims_replays_and_refuses_reuse_on(store: Store) {
        let window = Duration::from_secs(600);
        assert_eq!(
            store.claim(&request("k", "f", "a")).await.expect("claim"),
            Claim::Claimed { recovering: false }
        );
        assert_eq!(
            store.claim(&request("k", "f", "b")).await.expect("claim"),
            Claim::Pending
        );
        assert_eq!(
            store
                .claim(&request("k", "other", "b"))
                .await
                .expect("claim"),
            Claim::Reused
        );
        let record = AuditRecord {
            id: "r1".into(),
            outcome: Outcome::Created,
            ..AuditRecord::default()
        };
        let done = Finish::Done {
            status: 200,
            answer: "{}".into(),
        };
        assert!(
            !store
                .finish("k", "b", &done, window, &record)
                .await
                .expect("finish")
        );
        let record = AuditRecord {
            id: "r2".into(),
            ..record
        };
        assert!(
            store
                .finish("k", "a", &done, window, &record)
                .await
                .expect("finish")
        );
        assert_eq!(
            store.claim(&request("k", "f", "c")).await.expect("claim"),
            Claim::Done {
                status: 200,
                answer: "{}".into()
            }
        );
        let records = store.audit(&AuditFilter::default()).await.expect("audit");
        assert_eq!(records.len(), 2);
    }

    /// A checkpointer's round now, as its timer would run one.
    async fn checkpoint_now(store: &Store) {
        match store {
            Store::Sqlite(sqlite) => sqlite.checkpoint_now().await,
            Store::Postgres(_) => panic!("not a SQLite store"),
        }
    }

    /// Under steady writes the WAL is started over now and then instead of
    /// growing as long as writes go on: at the checkpointer's rounds (once
    /// a second in service, asked for here) once it has grown past
    /// `RESTART_AFTER_FRAMES`. SQLite counts each restart in the WAL
    /// header's checkpoint sequence (bytes 12..16).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_under_steady_writes() {
        /// More than `RESTART_AFTER_FRAMES`: each commit writes a page.
        const WRITES_PER_ROUND: u64 = 1_500;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.db");
        let store = Store::open(path.to_str().expect("utf-8"), 1)
            .await
            .expect("opens");
        let wal = dir.path().join("store.db-wal");
        let restarts = || {
            std::fs::read(&wal)
                .ok()
                .and_then(|header| Some(u32::from_be_bytes(header.get(12..16)?.try_into().ok()?)))
                .unwrap_or(0)
        };
        store
            .record(&AuditRecord {
                id: "first".into(),
                ..AuditRecord::default()
            })
            .await
            .expect("recorded");
        let first = restarts();
        // Steady writes in a task of their own, counted as they commit.
        let (written, mut counted) = tokio::sync::watch::channel(0u64);
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let writing = tokio::spawn({
            let store = store.clone();
            async move {
                let summary = "x".repeat(2000);
                let mut n = 0;
                while stopped.try_recv().is_err() {
                    let record = AuditRecord {
                        id: format!("r{n}"),
                        summary: Some(summary.clone()),
                        ..AuditRecord::default()
                    };
                    store.record(&record).await.expect("recorded");
                    n += 1;
                    written.send_replace(n);
                }
            }
        });
        for round in 1..=3 {
            counted
                .wait_for(|n| *n >= round * WRITES_PER_ROUND)
                .await
                .expect("writing");
            checkpoint_now(&store).await;
        }
        let _ = stop.send(());
        writing.await.expect("writer");
        let n = *counted.borrow();
        let restarted = restarts().wrapping_sub(first);
        assert!(
            restarted >= 2,
            "the WAL started over {restarted} times in {n} writes"
        );
    }

    /// Many writers at once on a multi-threaded runtime: every one is
    /// answered, only after its write committed, and nothing is lost or
    /// written twice, whoever applied it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writes_are_all_applied_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.db");
        let store = Store::open(path.to_str().expect("utf-8"), 2)
            .await
            .expect("opens");
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..2000 {
            let store = store.clone();
            tasks.spawn(async move {
                let record = AuditRecord {
                    id: format!("r{n}"),
                    caller: Some(format!("c{n}")),
                    ..AuditRecord::default()
                };
                store.record(&record).await.expect("recorded");
                // Answered means committed: a fresh read sees it.
                let filter = AuditFilter {
                    caller: Some(format!("c{n}")),
                    limit: 10,
                    ..AuditFilter::default()
                };
                let seen = store.audit(&filter).await.expect("audit");
                assert_eq!(seen.len(), 1, "c{n}");
            });
        }
        // A write left in the queue with no one to apply it would hang here.
        let all_answered = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(done) = tasks.join_next().await {
                done.expect("task");
            }
        });
        all_answered.await.expect("every write answered");
        let filter = AuditFilter {
            limit: 5000,
            ..AuditFilter::default()
        };
        let mut ids: Vec<String> = store
            .audit(&filter)
            .await
            .expect("audit")
            .into_iter()
            .map(|r| r.id)
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 2000);
    }

    /// The writer leaves checkpoints to the checkpointer's thread: a few
    /// hundred records (well under SQLite's own 1,000-page threshold) reach
    /// the database file at its next round, without any commit doing it.
    #[tokio::test]
    async fn the_wal_is_checkpointed_in_the_background() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.db");
        let store = Store::open(path.to_str().expect("utf-8"), 1)
            .await
            .expect("opens");
        // What opening wrote is in the file.
        checkpoint_now(&store).await;
        let size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let before = size();
        for n in 0..300 {
            let record = AuditRecord {
                id: format!("r{n}"),
                summary: Some("x".repeat(2000)),
                ..AuditRecord::default()
            };
            store.record(&record).await.expect("recorded");
        }
        let wal = dir.path().join("store.db-wal");
        assert!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 300 * 2000);
        checkpoint_now(&store).await;
        assert!(
            size() >= before + 300 * 2000,
            "database file {} bytes, was {before}",
            size()
        );
    }

    #[tokio::test]
    async fn an_expired_lease_or_an_uncertain_outcome_is_taken_over() {
        for (store, _dir) in stores().await {
            an_expired_lease_or_an_uncertain_outcome_is_taken_over_on(store).await;
        }
    }

    async fn an_expired_lease_or_an_uncertain_outcome_is_taken_over_on(store: Store) {
        let short = ClaimRequest {
            lease: Duration::ZERO,
            ..request("k", "f", "a")
        };
        assert_eq!(
            store.claim(&short).await.expect("claim"),
            Claim::Claimed { recovering: false }
        );
        assert_eq!(
            store.claim(&request("k", "f", "b")).await.expect("claim"),
            Claim::Claimed { recovering: true }
        );
        let record = AuditRecord::default();
        store
            .finish(
                "k",
                "b",
                &Finish::Uncertain {
                    settle_until: now_ms(),
                },
                Duration::from_secs(1),
                &record,
            )
            .await
            .expect("finish");
        assert_eq!(
            store.claim(&request("k", "f", "c")).await.expect("claim"),
            Claim::Claimed { recovering: true }
        );
        let record = AuditRecord {
            id: "2".into(),
            ..record
        };
        store
            .finish("k", "c", &Finish::Release, Duration::from_secs(1), &record)
            .await
            .expect("finish");
        assert_eq!(
            store.claim(&request("k", "f", "d")).await.expect("claim"),
            Claim::Claimed { recovering: false }
        );
    }

    #[tokio::test]
    async fn an_uncertain_outcome_is_not_taken_over_before_it_settles() {
        for (store, _dir) in stores().await {
            an_uncertain_outcome_is_not_taken_over_before_it_settles_on(store).await;
        }
    }

    /// The claim's clock is the caller's: moved by hand here.
    async fn an_uncertain_outcome_is_not_taken_over_before_it_settles_on(store: Store) {
        let at = |now_ms: i64, owner: &'static str| ClaimRequest {
            now_ms,
            ..request("s", "f", owner)
        };
        let t0 = now_ms();
        assert_eq!(
            store.claim(&at(t0, "a")).await.expect("claim"),
            Claim::Claimed { recovering: false }
        );
        let uncertain = |settle_until| Finish::Uncertain { settle_until };
        let window = Duration::from_secs(600);
        let record = |id: &str| AuditRecord {
            id: id.into(),
            ..AuditRecord::default()
        };
        store
            .finish("s", "a", &uncertain(t0 + 5_000), window, &record("1"))
            .await
            .expect("finish");
        for now in [t0, t0 + 4_999] {
            assert_eq!(
                store.claim(&at(now, "b")).await.expect("claim"),
                Claim::Settling {
                    until_ms: t0 + 5_000
                },
                "at +{}ms",
                now - t0
            );
        }
        assert_eq!(
            store.claim(&at(t0 + 5_000, "b")).await.expect("claim"),
            Claim::Claimed { recovering: true }
        );
        // An attempt that only looked (and failed) does not shorten the
        // wait an earlier create asked for.
        store
            .finish("s", "b", &uncertain(t0 + 9_000), window, &record("2"))
            .await
            .expect("finish");
        assert_eq!(
            store.claim(&at(t0 + 6_000, "c")).await.expect("claim"),
            Claim::Settling {
                until_ms: t0 + 9_000
            }
        );
        assert_eq!(
            store.claim(&at(t0 + 9_000, "c")).await.expect("claim"),
            Claim::Claimed { recovering: true }
        );
        store
            .finish("s", "c", &uncertain(t0), window, &record("3"))
            .await
            .expect("finish");
        assert_eq!(
            store.claim(&at(t0 + 9_000, "d")).await.expect("claim"),
            Claim::Claimed { recovering: true },
            "an earlier settle time is not brought back"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_claims_through_the_writer_let_one_through() {
        let (store, _dir) = stores().await.pop().expect("file store");
        let claims = (0..200).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let owner = format!("owner-{i}");
                store.claim(&request("same", "f", &owner)).await
            })
        });
        let mut claimed = 0;
        for claim in claims.collect::<Vec<_>>() {
            match claim.await.expect("joins").expect("claim") {
                Claim::Claimed { .. } => claimed += 1,
                Claim::Pending => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(claimed, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_does_not_undo_its_batch() {
        let (store, _dir) = stores().await.pop().expect("file store");
        let record = |id: &str| AuditRecord {
            id: id.into(),
            outcome: Outcome::Refused,
            ..AuditRecord::default()
        };
        store.record(&record("dup")).await.expect("first");
        // Queued together, so they share batches: the duplicate id fails
        // alone.
        let writes = ["a", "dup", "b", "c"].map(|id| {
            let store = store.clone();
            let record = record(id);
            tokio::spawn(async move { store.record(&record).await })
        });
        let mut failed = Vec::new();
        for (id, write) in ["a", "dup", "b", "c"].iter().zip(writes) {
            if write.await.expect("joins").is_err() {
                failed.push(*id);
            }
        }
        assert_eq!(failed, ["dup"]);
        let ids: Vec<String> = store
            .audit(&AuditFilter::default())
            .await
            .expect("audit")
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids.len(), 4, "{ids:?}");
        store.close().await;
        assert!(store.record(&record("late")).await.is_err(), "closed");
    }

    #[tokio::test]
    async fn backs_up_an_sqlite_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("live.db");
        let store = Store::open(path.to_str().expect("utf-8"), 2)
            .await
            .expect("opens");
        store
            .record(&AuditRecord {
                id: "1".into(),
                caller: Some("a@b.c".into()),
                ..AuditRecord::default()
            })
            .await
            .expect("record");
        let copy = dir.path().join("copy.db");
        store.backup(&copy).await.expect("backup");
        let restored = Store::open(copy.to_str().expect("utf-8"), 1)
            .await
            .expect("opens the copy");
        let records = restored.audit(&AuditFilter::default()).await.expect("read");
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].caller.as_deref(), Some("a@b.c"));
    }
}
