//! The SQLite driver (rusqlite): a file in WAL mode. Every write goes
//! through the one group-commit writer (`writer.rs`): claims, claim ends
//! and audit records as its batched operations, any other write as a job
//! in its own savepoint. Reads run on read-only connections, off the async
//! runtime (`spawn_blocking`), and never wait for the writer (WAL).
//!
//! The migrations are `rusqlite_migration`'s, counted in the file's
//! `user_version`. A file written by earlier versions (migrated by sqlx,
//! `user_version` 0) is adopted: its `_sqlx_migrations` history says how
//! far it is (see [`adopt_sqlx_history`]).

mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};

use super::signin::{GRANT_COLUMNS, StoredClient, StoredCode, StoredToken, UsedOnce};
use super::{AuditFilter, AuditRecord, Claim, ClaimRequest, Finish, OAUTH_ID, Outcome, StoreError};
use crate::oauth::{OAuthRow, STATUS_OK};
use crate::signin::rows::{CodeRow, GrantRow, RequestRow, TokenKind};
use writer::{OwnedClaim, Writer, closed, locked, sqlite_error};

/// The migrations in `migrations/`, in order: the same files PostgreSQL
/// runs (a test checks the two lists agree). An applied migration is never
/// edited: a schema change is a new file, added here too.
const MIGRATIONS: [&str; 7] = [
    include_str!("../../../migrations/0001_store.sql"),
    include_str!("../../../migrations/0002_oauth.sql"),
    include_str!("../../../migrations/0003_front_doors.sql"),
    include_str!("../../../migrations/0004_refusal_counts.sql"),
    include_str!("../../../migrations/0005_settle.sql"),
    include_str!("../../../migrations/0006_signin.sql"),
    include_str!("../../../migrations/0007_signin_oidc.sql"),
];

/// A sign-in token with its grant: read on every signed-in `/mcp` call.
static SELECT_TOKEN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {GRANT_COLUMNS}, t.expires_at, t.used_at \
         FROM signin_tokens t JOIN signin_grants g ON g.id = t.grant_id \
         WHERE t.hash = ?1 AND t.kind = ?2"
    )
});

/// How long opening, migrating or reading waits for another process
/// holding the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite store; clones share the writer and the readers.
#[derive(Clone)]
pub struct Sqlite {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    writer: Writer,
    /// Idle read-only connections, at most `max_readers`.
    readers: Mutex<Vec<Connection>>,
    max_readers: usize,
    closed: AtomicBool,
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqlite")
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

impl Sqlite {
    /// Opens (creating it if missing) and migrates the file, then starts
    /// its writer. `max_connections` bounds the idle readers kept.
    pub(super) async fn open(path: &Path, max_connections: u32) -> Result<Sqlite, StoreError> {
        let path = path.to_owned();
        let migrating = path.clone();
        blocking(move || prepare(&migrating)).await??;
        let writer = Writer::start(&path)?;
        Ok(Sqlite {
            shared: Arc::new(Shared {
                path,
                writer,
                readers: Mutex::new(Vec::new()),
                max_readers: usize::try_from(max_connections).unwrap_or(1),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// Runs `read` on an idle read-only connection (or a new one), off the
    /// async runtime.
    async fn read<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        blocking(move || {
            if shared.closed.load(Ordering::Acquire) {
                return Err(closed());
            }
            let idle = locked(&shared.readers).pop();
            let connection = match idle {
                Some(connection) => connection,
                None => open_reader(&shared.path).map_err(sqlite_error)?,
            };
            let result = read(&connection).map_err(sqlite_error);
            let mut readers = locked(&shared.readers);
            if readers.len() < shared.max_readers && !shared.closed.load(Ordering::Acquire) {
                readers.push(connection);
            }
            result
        })
        .await?
    }

    /// Runs `write` on the writer, in the next batch.
    async fn write<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.shared.writer.run(write).await
    }

    pub(super) async fn claim(&self, request: &ClaimRequest<'_>) -> Result<Claim, StoreError> {
        self.shared
            .writer
            .claim(OwnedClaim {
                key: request.key.to_owned(),
                caller: request.caller.to_owned(),
                fingerprint: request.fingerprint.to_owned(),
                owner: request.owner.to_owned(),
                lease_until: request.lease_until(),
                expires_at: request.expires_at(),
                now_ms: request.now_ms,
            })
            .await
    }

    pub(super) async fn finish(
        &self,
        key: &str,
        owner: &str,
        finish: &Finish,
        window: Duration,
        record: &AuditRecord,
    ) -> Result<bool, StoreError> {
        self.shared
            .writer
            .finish(
                key.to_owned(),
                owner.to_owned(),
                finish.clone(),
                window,
                record.clone(),
            )
            .await
    }

    pub(super) async fn record(&self, record: &AuditRecord) -> Result<(), StoreError> {
        self.shared.writer.record(record.clone()).await
    }

    pub(super) async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = filter.sql('?');
        let (since, limit, caller) = (filter.since_ms, filter.limit(), filter.caller());
        self.read(move |db| {
            let mut statement = db.prepare_cached(&sql)?;
            let rows = match &caller {
                Some(caller) => statement.query_map(params![since, limit, caller], audit_of)?,
                None => statement.query_map(params![since, limit], audit_of)?,
            };
            rows.collect()
        })
        .await
    }

    pub(super) async fn purge(&self, cutoff: i64, now: i64) -> Result<(u64, u64), StoreError> {
        self.write(move |db| {
            let audit = db.execute("DELETE FROM audit WHERE at < ?1", [cutoff])?;
            let idempotency = db.execute(
                "DELETE FROM idempotency WHERE expires_at < ?1 AND lease_until < ?1",
                [now],
            )?;
            Ok((count(audit), count(idempotency)))
        })
        .await
    }

    /// `VACUUM INTO`: a consistent copy, taken from a snapshot while
    /// writes go on, on a connection of its own.
    pub(super) async fn backup(&self, target: &Path) -> Result<(), StoreError> {
        let target = target
            .to_str()
            .ok_or(StoreError::Unsupported("the backup path is not UTF-8"))?
            .to_owned();
        let path = self.shared.path.clone();
        blocking(move || {
            let db = Connection::open(&path).map_err(sqlite_error)?;
            db.busy_timeout(BUSY_TIMEOUT).map_err(sqlite_error)?;
            db.execute("VACUUM INTO ?1", [target])
                .map(drop)
                .map_err(sqlite_error)
        })
        .await?
    }

    pub(super) async fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.writer.close().await;
        locked(&self.shared.readers).clear();
    }

    /// A checkpointer's round now (tests).
    #[cfg(test)]
    pub(in crate::store) async fn checkpoint_now(&self) {
        self.shared.writer.checkpoint_now().await;
    }

    pub(super) async fn oauth_get(&self) -> Result<Option<OAuthRow>, StoreError> {
        self.read(|db| {
            db.prepare_cached(
                "SELECT site_url, cloud_id, scopes, access_token, refresh_token, expires_at, \
                 refreshed_at, status FROM oauth_tokens WHERE id = ?1",
            )?
            .query_row([OAUTH_ID], |row| {
                Ok(OAuthRow {
                    site_url: row.get(0)?,
                    cloud_id: row.get(1)?,
                    scopes: row.get(2)?,
                    access_token: row.get(3)?,
                    refresh_token: row.get(4)?,
                    expires_at_ms: row.get(5)?,
                    refreshed_at_ms: row.get(6)?,
                    status: row.get(7)?,
                })
            })
            .optional()
        })
        .await
    }

    pub(super) async fn oauth_put(&self, row: &OAuthRow) -> Result<(), StoreError> {
        let row = row.clone();
        self.write(move |db| {
            db.execute(
                "INSERT INTO oauth_tokens (id, site_url, cloud_id, scopes, access_token, \
                 refresh_token, expires_at, refreshed_at, status, lease_holder, lease_until) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, 0) \
                 ON CONFLICT (id) DO UPDATE SET site_url = ?2, cloud_id = ?3, scopes = ?4, \
                 access_token = ?5, refresh_token = ?6, expires_at = ?7, refreshed_at = ?8, \
                 status = ?9, lease_holder = NULL, lease_until = 0",
                params![
                    OAUTH_ID,
                    row.site_url,
                    row.cloud_id,
                    row.scopes,
                    row.access_token,
                    row.refresh_token,
                    row.expires_at_ms,
                    row.refreshed_at_ms,
                    row.status
                ],
            )
            .map(drop)
        })
        .await
    }

    pub(super) async fn oauth_try_lease(
        &self,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let holder = holder.to_owned();
        self.write(move |db| {
            db.execute(
                "UPDATE oauth_tokens SET lease_holder = ?2, lease_until = ?3 \
                 WHERE id = ?1 AND (lease_holder IS NULL OR lease_until < ?4 OR lease_holder = ?2)",
                params![OAUTH_ID, holder, until_ms, now_ms],
            )
            .map(one)
        })
        .await
    }

    pub(super) async fn oauth_store_refreshed(
        &self,
        holder: &str,
        access_token: &str,
        refresh_token: Option<&str>,
        expires_at_ms: i64,
        refreshed_at_ms: i64,
    ) -> Result<bool, StoreError> {
        let (holder, access_token) = (holder.to_owned(), access_token.to_owned());
        let refresh_token = refresh_token.map(str::to_owned);
        self.write(move |db| {
            db.execute(
                "UPDATE oauth_tokens SET access_token = ?3, \
                 refresh_token = COALESCE(?4, refresh_token), expires_at = ?5, \
                 refreshed_at = ?6, status = ?7, lease_holder = NULL, lease_until = 0 \
                 WHERE id = ?1 AND lease_holder = ?2",
                params![
                    OAUTH_ID,
                    holder,
                    access_token,
                    refresh_token,
                    expires_at_ms,
                    refreshed_at_ms,
                    STATUS_OK
                ],
            )
            .map(one)
        })
        .await
    }

    pub(super) async fn oauth_expire(
        &self,
        access_token: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let access_token = access_token.to_owned();
        self.write(move |db| {
            db.execute(
                "UPDATE oauth_tokens SET expires_at = ?3 \
                 WHERE id = ?1 AND access_token = ?2 AND expires_at > ?3",
                params![OAUTH_ID, access_token, now],
            )
            .map(one)
        })
        .await
    }

    pub(super) async fn oauth_release(
        &self,
        holder: &str,
        status: Option<&str>,
    ) -> Result<(), StoreError> {
        let (holder, status) = (holder.to_owned(), status.map(str::to_owned));
        self.write(move |db| {
            db.execute(
                "UPDATE oauth_tokens SET lease_holder = NULL, lease_until = 0, \
                 status = COALESCE(?3, status) WHERE id = ?1 AND lease_holder = ?2",
                params![OAUTH_ID, holder, status],
            )
            .map(drop)
        })
        .await
    }

    pub(super) async fn signin_client_put(&self, client: StoredClient) -> Result<(), StoreError> {
        self.write(move |db| {
            db.execute(
                "INSERT INTO signin_clients (client_id, name, redirect_uris, created_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    client.client_id,
                    client.name,
                    client.redirect_uris,
                    client.created_at
                ],
            )
            .map(drop)
        })
        .await
    }

    pub(super) async fn signin_client(
        &self,
        client_id: &str,
    ) -> Result<Option<StoredClient>, StoreError> {
        let client_id = client_id.to_owned();
        self.read(move |db| {
            db.prepare_cached(
                "SELECT client_id, name, redirect_uris, created_at FROM signin_clients \
                 WHERE client_id = ?1",
            )?
            .query_row([client_id], |row| {
                Ok(StoredClient {
                    client_id: row.get(0)?,
                    name: row.get(1)?,
                    redirect_uris: row.get(2)?,
                    created_at: row.get(3)?,
                })
            })
            .optional()
        })
        .await
    }

    pub(super) async fn signin_request_put(&self, request: &RequestRow) -> Result<(), StoreError> {
        let r = request.clone();
        self.write(move |db| {
            db.execute(
                "INSERT INTO signin_requests (id, client_id, redirect_uri, state, \
                 code_challenge, resource, expires_at, upstream_nonce, upstream_verifier) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    r.id,
                    r.client_id,
                    r.redirect_uri,
                    r.state,
                    r.code_challenge,
                    r.resource,
                    r.expires_at_ms,
                    r.upstream_nonce,
                    r.upstream_verifier
                ],
            )
            .map(drop)
        })
        .await
    }

    pub(super) async fn signin_request(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<RequestRow>, StoreError> {
        let id = id.to_owned();
        self.read(move |db| {
            db.prepare_cached(
                "SELECT id, client_id, redirect_uri, state, code_challenge, resource, \
                 account_id, email, name, csrf, expires_at, upstream_nonce, upstream_verifier \
                 FROM signin_requests WHERE id = ?1 AND done = 0 AND expires_at > ?2",
            )?
            .query_row(params![id, now_ms], |row| {
                Ok(RequestRow {
                    id: row.get(0)?,
                    client_id: row.get(1)?,
                    redirect_uri: row.get(2)?,
                    state: row.get(3)?,
                    code_challenge: row.get(4)?,
                    resource: row.get(5)?,
                    account_id: row.get(6)?,
                    email: row.get(7)?,
                    name: row.get(8)?,
                    csrf: row.get(9)?,
                    expires_at_ms: row.get(10)?,
                    upstream_nonce: row.get(11)?,
                    upstream_verifier: row.get(12)?,
                })
            })
            .optional()
        })
        .await
    }

    pub(super) async fn signin_request_signed_in(
        &self,
        id: &str,
        account_id: &str,
        email: &str,
        name: Option<&str>,
        csrf_hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let (id, account_id, email) = (id.to_owned(), account_id.to_owned(), email.to_owned());
        let (name, csrf_hash) = (name.map(str::to_owned), csrf_hash.to_owned());
        self.write(move |db| {
            db.execute(
                "UPDATE signin_requests SET account_id = ?2, email = ?3, name = ?4, csrf = ?5 \
                 WHERE id = ?1 AND account_id IS NULL AND done = 0 AND expires_at > ?6",
                params![id, account_id, email, name, csrf_hash, now_ms],
            )
            .map(one)
        })
        .await
    }

    pub(super) async fn signin_request_end(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write(move |db| {
            db.execute(
                "UPDATE signin_requests SET done = 1 \
                 WHERE id = ?1 AND done = 0 AND expires_at > ?2",
                params![id, now_ms],
            )
            .map(one)
        })
        .await
    }

    pub(super) async fn signin_grant_with_code(
        &self,
        grant: &GrantRow,
        code: &CodeRow,
    ) -> Result<(), StoreError> {
        let (g, c) = (grant.clone(), code.clone());
        // One savepoint: both rows or neither.
        self.write(move |db| {
            db.execute(
                "INSERT INTO signin_grants (id, client_id, account_id, email, name, resource, \
                 created_at, last_used_at, revoked_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL)",
                params![
                    g.id,
                    g.client_id,
                    g.account_id,
                    g.email,
                    g.name,
                    g.resource,
                    g.created_at_ms,
                    g.last_used_at_ms
                ],
            )?;
            db.execute(
                "INSERT INTO signin_codes (hash, grant_id, redirect_uri, code_challenge, \
                 expires_at, used_at) VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
                params![
                    c.hash,
                    c.grant_id,
                    c.redirect_uri,
                    c.code_challenge,
                    c.expires_at_ms
                ],
            )
            .map(drop)
        })
        .await
    }

    pub(super) async fn signin_code(&self, hash: &str) -> Result<Option<StoredCode>, StoreError> {
        let hash = hash.to_owned();
        self.read(move |db| {
            db.prepare_cached(
                "SELECT hash, grant_id, redirect_uri, code_challenge, expires_at, used_at \
                 FROM signin_codes WHERE hash = ?1",
            )?
            .query_row([hash], |row| {
                Ok(StoredCode {
                    code: CodeRow {
                        hash: row.get(0)?,
                        grant_id: row.get(1)?,
                        redirect_uri: row.get(2)?,
                        code_challenge: row.get(3)?,
                        expires_at_ms: row.get(4)?,
                    },
                    used_at: row.get(5)?,
                })
            })
            .optional()
        })
        .await
    }

    pub(super) async fn use_once(
        &self,
        table: UsedOnce,
        hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let hash = hash.to_owned();
        self.write(move |db| {
            let sql = format!(
                "UPDATE {} SET used_at = ?2 WHERE hash = ?1 AND used_at IS NULL",
                table.table()
            );
            db.execute(&sql, params![hash, now_ms]).map(one)
        })
        .await
    }

    pub(super) async fn signin_grant(&self, id: &str) -> Result<Option<GrantRow>, StoreError> {
        let id = id.to_owned();
        self.read(move |db| {
            let sql = format!("SELECT {GRANT_COLUMNS} FROM signin_grants g WHERE g.id = ?1");
            db.prepare_cached(&sql)?
                .query_row([id], grant_of)
                .optional()
        })
        .await
    }

    pub(super) async fn signin_token_put(
        &self,
        hash: &str,
        grant_id: &str,
        kind: TokenKind,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        let (hash, grant_id) = (hash.to_owned(), grant_id.to_owned());
        self.write(move |db| {
            db.execute(
                "INSERT INTO signin_tokens (hash, grant_id, kind, expires_at, used_at) \
                 VALUES (?1, ?2, ?3, ?4, NULL)",
                params![hash, grant_id, kind.as_str(), expires_at_ms],
            )
            .map(drop)
        })
        .await
    }

    pub(super) async fn signin_token(
        &self,
        hash: &str,
        kind: TokenKind,
    ) -> Result<Option<StoredToken>, StoreError> {
        let hash = hash.to_owned();
        self.read(move |db| {
            db.prepare_cached(&SELECT_TOKEN)?
                .query_row(params![hash, kind.as_str()], |row| {
                    Ok(StoredToken {
                        grant: grant_of(row)?,
                        token_expires_at: row.get(9)?,
                        token_used_at: row.get(10)?,
                    })
                })
                .optional()
        })
        .await
    }

    pub(super) async fn signin_grant_of_token(
        &self,
        hash: &str,
    ) -> Result<Option<String>, StoreError> {
        let hash = hash.to_owned();
        self.read(move |db| {
            db.prepare_cached("SELECT grant_id FROM signin_tokens WHERE hash = ?1")?
                .query_row([hash], |row| row.get(0))
                .optional()
        })
        .await
    }

    pub(super) async fn signin_revoke_grant(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write(move |db| {
            db.execute(
                "UPDATE signin_grants SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now_ms],
            )
            .map(one)
        })
        .await
    }

    pub(super) async fn signin_revoke_person(
        &self,
        email: &str,
        client_id: Option<&str>,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let (email, client_id) = (email.to_owned(), client_id.map(str::to_owned));
        self.write(move |db| {
            db.execute(
                "UPDATE signin_grants SET revoked_at = ?3 WHERE lower(email) = lower(?1) \
                 AND (?2 IS NULL OR client_id = ?2) AND revoked_at IS NULL",
                params![email, client_id, now_ms],
            )
            .map(count)
        })
        .await
    }

    pub(super) async fn signin_touch(
        &self,
        id: &str,
        now_ms: i64,
        unless_since: i64,
    ) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.write(move |db| {
            db.execute(
                "UPDATE signin_grants SET last_used_at = ?2 WHERE id = ?1 AND last_used_at < ?3",
                params![id, now_ms, unless_since],
            )
            .map(drop)
        })
        .await
    }

    pub(super) async fn signin_grants(&self) -> Result<Vec<GrantRow>, StoreError> {
        self.read(|db| {
            let sql = format!(
                "SELECT {GRANT_COLUMNS} FROM signin_grants g WHERE g.revoked_at IS NULL \
                 ORDER BY g.last_used_at DESC"
            );
            db.prepare_cached(&sql)?.query_map([], grant_of)?.collect()
        })
        .await
    }
}

/// Runs blocking SQLite work off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Io(e.to_string()))
}

/// Creates the file if missing, puts it in WAL mode and migrates it.
fn prepare(path: &Path) -> Result<(), StoreError> {
    let mut db = Connection::open(path).map_err(sqlite_error)?;
    db.busy_timeout(BUSY_TIMEOUT).map_err(sqlite_error)?;
    // WAL: readers never block the writer. The mode is the file's.
    let mode: String = db
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(sqlite_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Sqlite(format!(
            "the database would not use WAL (journal mode {mode})"
        )));
    }
    migrate(&mut db)
}

/// [`MIGRATIONS`] as `rusqlite_migration` runs them.
fn migrations() -> Migrations<'static> {
    Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect())
}

/// Applies what is missing of [`MIGRATIONS`]. Processes opening a new file
/// together may race (each read the version before the other wrote): the
/// one that loses fails, reads the version again and finds nothing to do.
fn migrate(db: &mut Connection) -> Result<(), StoreError> {
    let migrations = migrations();
    let mut attempts = 3;
    loop {
        adopt_sqlx_history(db).map_err(sqlite_error)?;
        match migrations.to_latest(db) {
            Ok(()) => return Ok(()),
            Err(err) if attempts > 1 => {
                tracing::debug!(cause = %err, "store: migration raced; trying again");
                attempts -= 1;
            }
            Err(err) => return Err(StoreError::Sqlite(format!("migration failed: {err}"))),
        }
    }
}

/// A file migrated by sqlx (earlier versions of jira-action) keeps its
/// history in `_sqlx_migrations` and leaves `user_version` at 0: carry the
/// highest applied version over, so that only what is missing runs. The
/// table stays, unread.
fn adopt_sqlx_history(db: &Connection) -> rusqlite::Result<()> {
    let version: i64 = db.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let sqlx_history: bool = db.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master \
         WHERE type = 'table' AND name = '_sqlx_migrations')",
        [],
        |row| row.get(0),
    )?;
    if version != 0 || !sqlx_history {
        return Ok(());
    }
    let applied: Option<i64> = db.query_row(
        "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
        [],
        |row| row.get(0),
    )?;
    if let Some(applied) = applied {
        tracing::info!(
            version = applied,
            "store: adopting the sqlx migration history"
        );
        db.pragma_update(None, "user_version", applied)?;
    }
    Ok(())
}

/// A reader: read-only, so nothing it runs can write.
fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let db = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    db.busy_timeout(BUSY_TIMEOUT)?;
    Ok(db)
}

/// Whether a conditional write changed its one row.
fn one(changed: usize) -> bool {
    changed == 1
}

fn count(changed: usize) -> u64 {
    u64::try_from(changed).unwrap_or(u64::MAX)
}

/// A row of [`super::AUDIT_COLUMNS`].
fn audit_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        id: row.get(0)?,
        at_ms: row.get(1)?,
        at: String::new(),
        request_id: row.get(2)?,
        caller: row.get(3)?,
        signature: row.get(4)?,
        idempotency_key: row.get(5)?,
        reporter: row.get(6)?,
        assignee: row.get(7)?,
        project: row.get(8)?,
        issue_type: row.get(9)?,
        summary: row.get(10)?,
        description: row.get(11)?,
        outcome: Outcome::parse(&row.get::<_, String>(12)?),
        status: row.get(13)?,
        issue_key: row.get(14)?,
        issue_url: row.get(15)?,
        error: row.get(16)?,
        jira_calls: row.get(17)?,
        latency_ms: row.get(18)?,
        front_door: row.get(19)?,
        client: row.get(20)?,
        operation: row.get(21)?,
        count: row.get(22)?,
        reason: row.get(23)?,
    })
}

/// A row of [`GRANT_COLUMNS`] (its first nine columns).
fn grant_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<GrantRow> {
    Ok(GrantRow {
        id: row.get(0)?,
        client_id: row.get(1)?,
        account_id: row.get(2)?,
        email: row.get(3)?,
        name: row.get(4)?,
        resource: row.get(5)?,
        created_at_ms: row.get(6)?,
        last_used_at_ms: row.get(7)?,
        revoked_at_ms: row.get(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite runs the very files, in the same order, that PostgreSQL's
    /// migrator embeds from `migrations/`: a new file must be added to
    /// [`MIGRATIONS`] too.
    #[test]
    fn both_backends_run_the_same_migrations() {
        let postgres: Vec<&str> = crate::store::postgres::MIGRATOR
            .iter()
            .map(|migration| migration.sql.as_ref())
            .collect();
        assert_eq!(postgres, MIGRATIONS);
    }

    #[test]
    fn the_migrations_apply_in_order() {
        migrations().validate().expect("valid");
    }
}
