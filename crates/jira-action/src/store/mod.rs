//! Durable state: idempotency claims and the audit trail.
//!
//! One interface, two databases over sqlx: SQLite (the default, a local
//! file in WAL mode) and PostgreSQL (shared by several jira-action
//! processes, which is how the guarantees hold across machines). Queries are
//! checked at run time (no database exists at build time) and written in
//! the SQL both dialects share: `$n` placeholders, `INSERT .. ON CONFLICT DO
//! NOTHING`, TEXT and BIGINT columns, times as Unix milliseconds. The one
//! migration set in `migrations/` is embedded and run at start-up.

pub mod cli;
mod writer;

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sqlx::Row;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

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

/// The migrations, embedded so the binary needs no files beside it. An
/// applied migration is never edited (its checksum is recorded): a schema
/// change is a new file and a new entry here.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "store", include_str!("../../migrations/0001_store.sql")),
    (2, "oauth", include_str!("../../migrations/0002_oauth.sql")),
    (
        3,
        "front_doors",
        include_str!("../../migrations/0003_front_doors.sql"),
    ),
    (
        4,
        "refusal_counts",
        include_str!("../../migrations/0004_refusal_counts.sql"),
    ),
    (
        5,
        "settle",
        include_str!("../../migrations/0005_settle.sql"),
    ),
    (
        6,
        "signin",
        include_str!("../../migrations/0006_signin.sql"),
    ),
    (
        7,
        "signin_oidc",
        include_str!("../../migrations/0007_signin_oidc.sql"),
    ),
];

/// A pool of connections to the configured database; an SQLite file also
/// has its single writer (see `writer.rs`), through which every request's
/// claim, claim end and audit record go.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool, Option<Writer>),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool the store has; each arm
/// is type-checked against its own database.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            Store::Sqlite($pool, _) => $body,
            Store::Postgres($pool) => $body,
        }
    };
}

use writer::OwnedClaim;
pub use writer::Writer;

mod oauth;
pub use oauth::{OAuthRow, STATUS_OK, STATUS_RECONSENT};

pub mod signin;

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

/// One request to `POST /create_issue`, as the audit trail keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub id: String,
    /// Unix milliseconds.
    #[serde(skip)]
    pub at_ms: i64,
    /// RFC 3339, for people and `--format json|csv`.
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

/// `postgres://` and `postgresql://` are PostgreSQL; `sqlite:` URLs and
/// plain paths are SQLite files (created if missing); `sqlite::memory:` is
/// a private in-memory database (tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Postgres(String),
    SqliteUrl(String),
    SqliteFile(String),
    SqliteMemory,
}

impl Location {
    pub fn parse(url: &str) -> Result<Location, StoreError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(StoreError::InvalidUrl("empty".into()));
        }
        Ok(
            if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                Location::Postgres(url.to_owned())
            } else if url == "sqlite::memory:" || url == ":memory:" {
                Location::SqliteMemory
            } else if url.starts_with("sqlite:") {
                Location::SqliteUrl(url.to_owned())
            } else if url.contains("://") {
                return Err(StoreError::InvalidUrl(
                    "expected postgres://…, sqlite://… or a file path".into(),
                ));
            } else {
                Location::SqliteFile(url.to_owned())
            },
        )
    }
}

impl Store {
    /// Connects (creating an SQLite file if missing) and runs the migrations.
    pub async fn open(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        let max_connections = max_connections.max(1);
        let store = match Location::parse(url)? {
            Location::Postgres(url) => {
                let options = PgConnectOptions::from_str(&url)
                    .map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
                let pool = PgPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(options)
                    .await?;
                Store::Postgres(pool)
            }
            Location::SqliteMemory => {
                let options = SqliteConnectOptions::from_str("sqlite::memory:")?;
                // One connection, kept forever: the database lives in it.
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(options)
                    .await?;
                Store::Sqlite(pool, None)
            }
            location => {
                let options = match location {
                    Location::SqliteUrl(url) => SqliteConnectOptions::from_str(&url)
                        .map_err(|e| StoreError::InvalidUrl(e.to_string()))?,
                    _ => SqliteConnectOptions::new().filename(url.trim()),
                };
                // WAL: readers never block the writer; NORMAL is durable
                // across process crashes (only an OS crash may lose the
                // last commits); writers queue on the busy timeout.
                let options = options
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5));
                let path = options.get_filename().to_owned();
                let pool = SqlitePoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(options)
                    .await?;
                // The writer needs the tables: it starts after the migrations.
                Store::Sqlite(pool.clone(), None).migrate().await?;
                return Ok(Store::Sqlite(pool, Some(Writer::start(&path)?)));
            }
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the embedded migrations; on PostgreSQL under an advisory
    /// lock, so processes starting together do not race.
    async fn migrate(&self) -> Result<(), StoreError> {
        let migrations: Vec<Migration> = MIGRATIONS
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    Cow::Borrowed(*sql),
                    false,
                )
            })
            .collect();
        let migrator = Migrator {
            migrations: Cow::Owned(migrations),
            ..Migrator::DEFAULT
        };
        on_pool!(self, pool => migrator.run(pool).await?);
        Ok(())
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(..) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// One attempt to claim an identity; never waits (the caller polls
    /// while the answer is `Pending`).
    pub async fn claim(&self, request: &ClaimRequest<'_>) -> Result<Claim, StoreError> {
        if let Store::Sqlite(_, Some(writer)) = self {
            return writer
                .claim(OwnedClaim {
                    key: request.key.to_owned(),
                    caller: request.caller.to_owned(),
                    fingerprint: request.fingerprint.to_owned(),
                    owner: request.owner.to_owned(),
                    lease: request.lease,
                    window: request.window,
                    now_ms: request.now_ms,
                })
                .await;
        }
        // A row can vanish between the statements (finished and released,
        // or purged); a few rounds settle it.
        for _ in 0..4 {
            let now = request.now_ms;
            let lease_until = now.saturating_add(millis(request.lease));
            let expires_at = now.saturating_add(millis(request.window));
            let inserted = on_pool!(self, pool => sqlx::query(
                "INSERT INTO idempotency \
                 (key, caller, fingerprint, state, owner, lease_until, created_at, expires_at) \
                 VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING",
            )
            .bind(request.key)
            .bind(request.caller)
            .bind(request.fingerprint)
            .bind(request.owner)
            .bind(lease_until)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await?
            .rows_affected());
            if inserted == 1 {
                return Ok(Claim::Claimed { recovering: false });
            }
            let row = on_pool!(self, pool => sqlx::query(
                "SELECT state, owner, fingerprint, lease_until, expires_at, status, answer, \
                 settle_until FROM idempotency WHERE key = $1",
            )
            .bind(request.key)
            .fetch_optional(pool)
            .await?
            .map(|row| Existing::from_row(&row))
            .transpose()?);
            let Some(existing) = row else { continue };
            let recovering = match decide(&existing, request.fingerprint, now) {
                Decision::Answer(answer) => return Ok(answer),
                Decision::TakeOver { recovering } => recovering,
            };
            let taken = on_pool!(self, pool => sqlx::query(
                "UPDATE idempotency SET state = 'pending', owner = $3, fingerprint = $4, \
                 lease_until = $5, created_at = $6, expires_at = $7, status = NULL, answer = NULL \
                 WHERE key = $1 AND owner = $2 AND state = $8",
            )
            .bind(request.key)
            .bind(&existing.owner)
            .bind(request.owner)
            .bind(request.fingerprint)
            .bind(lease_until)
            .bind(now)
            .bind(expires_at)
            .bind(&existing.state)
            .execute(pool)
            .await?
            .rows_affected());
            if taken == 1 {
                return Ok(Claim::Claimed { recovering });
            }
        }
        // Contended beyond reason: someone else is making progress.
        Ok(Claim::Pending)
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
        if let Store::Sqlite(_, Some(writer)) = self {
            return writer
                .finish(
                    key.to_owned(),
                    owner.to_owned(),
                    finish.clone(),
                    window,
                    record.clone(),
                )
                .await;
        }
        let now = now_ms();
        let held = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let query = match finish {
                Finish::Done { status, answer } => sqlx::query(
                    "UPDATE idempotency SET state = 'done', status = $3, answer = $4, \
                     lease_until = $5, expires_at = $6 WHERE key = $1 AND owner = $2",
                )
                .bind(key)
                .bind(owner)
                .bind(i64::from(*status))
                .bind(answer.as_str())
                .bind(now)
                .bind(now.saturating_add(millis(window))),
                Finish::Uncertain { settle_until } => sqlx::query(
                    "UPDATE idempotency SET state = 'uncertain', lease_until = $3, \
                     settle_until = CASE WHEN settle_until > $4 THEN settle_until ELSE $4 END \
                     WHERE key = $1 AND owner = $2",
                )
                .bind(key)
                .bind(owner)
                .bind(now)
                .bind(*settle_until),
                Finish::Release => {
                    sqlx::query("DELETE FROM idempotency WHERE key = $1 AND owner = $2")
                        .bind(key)
                        .bind(owner)
                }
            };
            let held = query.execute(&mut *tx).await?.rows_affected() == 1;
            insert_audit(record).execute(&mut *tx).await?;
            tx.commit().await?;
            held
        });
        Ok(held)
    }

    /// Writes the audit record of a request that claimed nothing.
    pub async fn record(&self, record: &AuditRecord) -> Result<(), StoreError> {
        if let Store::Sqlite(_, Some(writer)) = self {
            return writer.record(record.clone()).await;
        }
        on_pool!(self, pool => insert_audit(record).execute(pool).await.map(drop)?);
        Ok(())
    }

    /// Audit records, oldest first.
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE at >= $1");
        if filter.caller.is_some() {
            sql.push_str(" AND caller = $3");
        }
        sql.push_str(" ORDER BY at, id LIMIT $2");
        let caller = filter.caller.as_deref().map(str::to_lowercase);
        let limit = if filter.limit > 0 {
            filter.limit
        } else {
            i64::MAX
        };
        let records = on_pool!(self, pool => {
            let mut query = sqlx::query(&sql).bind(filter.since_ms).bind(limit);
            if let Some(caller) = &caller {
                query = query.bind(caller.as_str());
            }
            query
                .fetch_all(pool)
                .await?
                .iter()
                .map(audit_from_row)
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        Ok(records)
    }

    /// Deletes audit records older than `retention` and idempotency rows
    /// whose window and lease are both over. Returns (audit, idempotency)
    /// rows deleted.
    pub async fn purge(&self, retention: Duration) -> Result<(u64, u64), StoreError> {
        let now = now_ms();
        let cutoff = now.saturating_sub(millis(retention));
        let counts = on_pool!(self, pool => {
            let audit = sqlx::query("DELETE FROM audit WHERE at < $1")
                .bind(cutoff)
                .execute(pool)
                .await?
                .rows_affected();
            let idempotency =
                sqlx::query("DELETE FROM idempotency WHERE expires_at < $1 AND lease_until < $1")
                    .bind(now)
                    .execute(pool)
                    .await?
                    .rows_affected();
            (audit, idempotency)
        });
        Ok(counts)
    }

    /// A consistent copy of an SQLite store, taken while it is in use.
    pub async fn backup(&self, path: &Path) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool, _) => {
                let target = path
                    .to_str()
                    .ok_or(StoreError::Unsupported("the backup path is not UTF-8"))?;
                sqlx::query("VACUUM INTO $1")
                    .bind(target)
                    .execute(pool)
                    .await?;
                Ok(())
            }
            Store::Postgres(_) => Err(StoreError::Unsupported(
                "the store is PostgreSQL: back it up with pg_dump (see the README), not jira-action backup",
            )),
        }
    }

    /// Closes the pool (waits for connections in use to be returned) and
    /// stops the writer once what is queued is written.
    pub async fn close(&self) {
        if let Store::Sqlite(_, Some(writer)) = self {
            writer.close().await;
        }
        on_pool!(self, pool => pool.close().await);
    }
}

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

impl Existing {
    fn from_row<R: Row>(row: &R) -> Result<Existing, sqlx::Error>
    where
        for<'r> &'r str: sqlx::ColumnIndex<R>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(Existing {
            state: row.try_get("state")?,
            owner: row.try_get("owner")?,
            fingerprint: row.try_get("fingerprint")?,
            lease_until: row.try_get("lease_until")?,
            expires_at: row.try_get("expires_at")?,
            status: row.try_get("status")?,
            answer: row.try_get("answer")?,
            settle_until: row.try_get("settle_until")?,
        })
    }
}

const AUDIT_COLUMNS: &str = "id, at, request_id, caller, signature, idempotency_key, reporter, \
    assignee, project, issue_type, summary, description, outcome, status, issue_key, issue_url, \
    error, jira_calls, latency_ms, front_door, client, operation, count, reason";

fn insert_audit<'q, DB>(record: &'q AuditRecord) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>>
where
    DB: sqlx::Database,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "INSERT INTO audit (id, at, request_id, caller, signature, idempotency_key, reporter, \
         assignee, project, issue_type, summary, description, outcome, status, issue_key, \
         issue_url, error, jira_calls, latency_ms, front_door, client, operation, count, reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, $22, $23, $24)",
    )
    .bind(record.id.clone())
    .bind(record.at_ms)
    .bind(record.request_id.clone())
    .bind(record.caller.clone())
    .bind(record.signature.clone())
    .bind(record.idempotency_key.clone())
    .bind(record.reporter.clone())
    .bind(record.assignee.clone())
    .bind(record.project.clone())
    .bind(record.issue_type.clone())
    .bind(record.summary.clone())
    .bind(record.description.clone())
    .bind(record.outcome.as_str().to_owned())
    .bind(record.status)
    .bind(record.issue_key.clone())
    .bind(record.issue_url.clone())
    .bind(record.error.clone())
    .bind(record.jira_calls)
    .bind(record.latency_ms)
    .bind(record.front_door.clone())
    .bind(record.client.clone())
    .bind(record.operation.clone())
    .bind(record.count)
    .bind(record.reason.clone())
}

fn audit_from_row<R: Row>(row: &R) -> Result<AuditRecord, sqlx::Error>
where
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let at_ms: i64 = row.try_get("at")?;
    Ok(AuditRecord {
        id: row.try_get("id")?,
        at_ms,
        at: rfc3339(at_ms),
        request_id: row.try_get("request_id")?,
        caller: row.try_get("caller")?,
        signature: row.try_get("signature")?,
        idempotency_key: row.try_get("idempotency_key")?,
        reporter: row.try_get("reporter")?,
        assignee: row.try_get("assignee")?,
        project: row.try_get("project")?,
        issue_type: row.try_get("issue_type")?,
        summary: row.try_get("summary")?,
        description: row.try_get("description")?,
        outcome: Outcome::parse(&row.try_get::<String, _>("outcome")?),
        status: row.try_get("status")?,
        issue_key: row.try_get("issue_key")?,
        issue_url: row.try_get("issue_url")?,
        error: row.try_get("error")?,
        jira_calls: row.try_get("jira_calls")?,
        latency_ms: row.try_get("latency_ms")?,
        front_door: row.try_get("front_door")?,
        client: row.try_get("client")?,
        operation: row.try_get("operation")?,
        count: row.try_get("count")?,
        reason: row.try_get("reason")?,
    })
}

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
            Location::parse("sqlite::memory:").ok(),
            Some(Location::SqliteMemory)
        );
        assert!(matches!(
            Location::parse("sqlite:///var/lib/x.db"),
            Ok(Location::SqliteUrl(_))
        ));
        assert!(matches!(
            Location::parse("data/x.db"),
            Ok(Location::SqliteFile(_))
        ));
        assert!(Location::parse("mysql://h/db").is_err());
        assert!(Location::parse(" ").is_err());
    }

    /// The stores under test: in memory (through the pool) and a file
    /// (through the single writer); the directory must outlive the store.
    async fn stores() -> Vec<(Store, Option<tempfile::TempDir>)> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.db");
        let file = Store::open(path.to_str().expect("utf-8"), 2)
            .await
            .expect("opens");
        assert!(
            matches!(file, Store::Sqlite(_, Some(_))),
            "a file has a writer"
        );
        let memory = Store::open("sqlite::memory:", 1).await.expect("opens");
        vec![(memory, None), (file, Some(dir))]
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
            Store::Sqlite(_, Some(writer)) => writer.checkpoint_now().await,
            _ => panic!("not a SQLite file store"),
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
