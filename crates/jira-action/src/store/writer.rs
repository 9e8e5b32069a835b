//! The SQLite store's single writer: one connection on its own thread that
//! applies claims, claim ends and audit records in batches, one transaction
//! per batch (group commit).
//!
//! Why: SQLite has one writer at a time anyway. Several pooled connections
//! writing at once only meet `SQLITE_BUSY` and sleep in SQLite's busy
//! handler, and sqlx runs every statement as a round trip to a per-connection
//! thread. Here a request costs one channel send and one wake-up, whatever
//! the load, and a batch costs one commit.
//!
//! Nothing is answered before its batch has committed: a claim, a claim's
//! end (which a replay depends on) and an audit record are durable (to the
//! WAL, `synchronous = NORMAL`) when their request hears back. Each batch
//! runs under `BEGIN IMMEDIATE`, so a claim's read and write are one atomic
//! step even against other processes sharing the file (they wait on the
//! busy timeout). Each operation runs in its own savepoint: one that fails
//! is rolled back and answered with its error, and the rest of the batch
//! still commits.
//!
//! Checkpoints (copying the WAL back into the database file, with an
//! fsync) are not left to whichever commit crosses SQLite's threshold: that
//! commit would hold every request of its batch for milliseconds. A second
//! thread with its own connection checkpoints every second instead
//! (`PASSIVE`: it never blocks the writer).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use super::{AuditRecord, Claim, Decision, Existing, Finish, StoreError, decide, millis, now_ms};

/// Operations waiting for the writer; senders wait when it is this far
/// behind (back-pressure instead of unbounded memory).
const QUEUE: usize = 4096;

/// The most operations in one transaction: bounds how long the first of a
/// batch waits for the last.
const MAX_BATCH: usize = 512;

/// How long a write waits for another process holding the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// A claim, owned so that it can cross to the writer's thread.
#[derive(Debug)]
pub(super) struct OwnedClaim {
    pub key: String,
    pub caller: String,
    pub fingerprint: String,
    pub owner: String,
    pub lease: Duration,
    pub window: Duration,
}

#[derive(Debug)]
enum Op {
    Claim(OwnedClaim, oneshot::Sender<Result<Claim, StoreError>>),
    Finish {
        key: String,
        owner: String,
        finish: Finish,
        window: Duration,
        record: AuditRecord,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    Record(AuditRecord, oneshot::Sender<Result<(), StoreError>>),
    /// Stop after what is queued before it.
    Close(oneshot::Sender<()>),
}

/// The writer's handle; clones share the one writer, which stops when the
/// last clone is dropped or [`Writer::close`] is called.
#[derive(Clone, Debug)]
pub struct Writer {
    queue: mpsc::Sender<Op>,
}

fn closed() -> StoreError {
    StoreError::Unsupported("the store is closed")
}

impl Writer {
    /// Opens a connection to the (already migrated) file and starts the
    /// writer's thread.
    pub(super) fn start(path: &Path) -> Result<Writer, StoreError> {
        let connection = Connection::open(path).map_err(sqlite_error)?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(sqlite_error)?;
        // The journal mode is the file's (set by the pool); synchronous is
        // per connection: NORMAL under WAL survives a process crash.
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite_error)?;
        // Checkpoints are the checkpointer's (see the module's comment).
        connection
            .pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(sqlite_error)?;
        connection.set_prepared_statement_cache_capacity(16);
        let checkpoints = Connection::open(path).map_err(sqlite_error)?;
        checkpoints
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(sqlite_error)?;
        let (running, stopped) = std::sync::mpsc::channel::<()>();
        let (queue, ops) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || checkpoint_until(checkpoints, &stopped))
            .map_err(|e| StoreError::Io(e.to_string()))?;
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                run(connection, ops);
                drop(running);
            })
            .map_err(|e| StoreError::Io(e.to_string()))?;
        Ok(Writer { queue })
    }

    async fn call<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Op,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(op(reply)).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    pub(super) async fn claim(&self, claim: OwnedClaim) -> Result<Claim, StoreError> {
        self.call(|reply| Op::Claim(claim, reply)).await
    }

    pub(super) async fn finish(
        &self,
        key: String,
        owner: String,
        finish: Finish,
        window: Duration,
        record: AuditRecord,
    ) -> Result<bool, StoreError> {
        self.call(|reply| Op::Finish {
            key,
            owner,
            finish,
            window,
            record,
            reply,
        })
        .await
    }

    pub(super) async fn record(&self, record: AuditRecord) -> Result<(), StoreError> {
        self.call(|reply| Op::Record(record, reply)).await
    }

    /// Applies what is queued, then stops the writer.
    pub(super) async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.queue.send(Op::Close(reply)).await.is_ok() {
            let _ = done.await;
        }
    }
}

fn sqlite_error(err: rusqlite::Error) -> StoreError {
    StoreError::Sqlite(err.to_string())
}

/// An operation's answer, held until its batch commits.
enum Answer {
    Claim(
        oneshot::Sender<Result<Claim, StoreError>>,
        Result<Claim, StoreError>,
    ),
    Held(
        oneshot::Sender<Result<bool, StoreError>>,
        Result<bool, StoreError>,
    ),
    Recorded(
        oneshot::Sender<Result<(), StoreError>>,
        Result<(), StoreError>,
    ),
}

impl Answer {
    fn send(self) {
        // A receiver that went away (its request was dropped) needs no answer.
        match self {
            Answer::Claim(reply, result) => drop(reply.send(result)),
            Answer::Held(reply, result) => drop(reply.send(result)),
            Answer::Recorded(reply, result) => drop(reply.send(result)),
        }
    }

    /// The batch did not commit: every operation in it failed.
    fn fail(self, err: &StoreError) {
        let err = || StoreError::Sqlite(err.to_string());
        match self {
            Answer::Claim(reply, _) => drop(reply.send(Err(err()))),
            Answer::Held(reply, _) => drop(reply.send(Err(err()))),
            Answer::Recorded(reply, _) => drop(reply.send(Err(err()))),
        }
    }
}

fn run(mut connection: Connection, mut ops: mpsc::Receiver<Op>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut answers = Vec::with_capacity(MAX_BATCH);
    loop {
        // Waits for work, then takes whatever else has queued meanwhile.
        if ops.blocking_recv_many(&mut batch, MAX_BATCH) == 0 {
            return;
        }
        let mut close = None;
        if let Some(at) = batch.iter().position(|op| matches!(op, Op::Close(_))) {
            for op in batch.drain(at..) {
                match op {
                    Op::Close(done) if close.is_none() => close = Some(done),
                    // Ops queued behind the close: refused, like later ones.
                    other => refuse(other),
                }
            }
        }
        let committed = apply(&mut connection, batch.drain(..), &mut answers);
        match committed {
            Ok(()) => answers.drain(..).for_each(Answer::send),
            Err(err) => {
                tracing::error!(cause = %err, "store: a batch did not commit");
                answers.drain(..).for_each(|a| a.fail(&err));
            }
        }
        if let Some(done) = close {
            ops.close();
            while let Ok(op) = ops.try_recv() {
                refuse(op);
            }
            let _ = done.send(());
            return;
        }
    }
}

/// Checkpoints every [`CHECKPOINT_EVERY`] until the writer stops (its end
/// of `stopped` is dropped), and once more then.
fn checkpoint_until(connection: Connection, stopped: &std::sync::mpsc::Receiver<()>) {
    loop {
        let last = !matches!(
            stopped.recv_timeout(CHECKPOINT_EVERY),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        );
        // (busy, WAL frames, frames checkpointed): only errors matter here.
        let done = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            row.get::<_, i64>(0)
        });
        if let Err(err) = done {
            tracing::warn!(cause = %err, "store: checkpoint failed");
        }
        if last {
            return;
        }
    }
}

fn refuse(op: Op) {
    match op {
        Op::Claim(_, reply) => drop(reply.send(Err(closed()))),
        Op::Finish { reply, .. } => drop(reply.send(Err(closed()))),
        Op::Record(_, reply) => drop(reply.send(Err(closed()))),
        Op::Close(done) => drop(done.send(())),
    }
}

/// One transaction for the whole batch, one savepoint per operation.
fn apply(
    connection: &mut Connection,
    batch: impl Iterator<Item = Op>,
    answers: &mut Vec<Answer>,
) -> Result<(), StoreError> {
    let mut tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite_error)?;
    for op in batch {
        let answer = match op {
            Op::Claim(claim, reply) => {
                Answer::Claim(reply, in_savepoint(&mut tx, |tx| claim_in(tx, &claim)))
            }
            Op::Finish {
                key,
                owner,
                finish,
                window,
                record,
                reply,
            } => Answer::Held(
                reply,
                in_savepoint(&mut tx, |tx| {
                    finish_in(tx, &key, &owner, &finish, window, &record)
                }),
            ),
            Op::Record(record, reply) => Answer::Recorded(
                reply,
                in_savepoint(&mut tx, |tx| insert_audit(tx, &record).map(drop)),
            ),
            Op::Close(done) => {
                let _ = done.send(());
                continue;
            }
        };
        answers.push(answer);
    }
    tx.commit().map_err(sqlite_error)
}

/// Runs `f` in a savepoint: its writes are kept if it succeeds and undone
/// if it fails, without ending the batch's transaction.
fn in_savepoint<T>(
    tx: &mut Transaction<'_>,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> Result<T, StoreError> {
    let savepoint = tx.savepoint().map_err(sqlite_error)?;
    match f(&savepoint) {
        Ok(value) => {
            savepoint.commit().map_err(sqlite_error)?;
            Ok(value)
        }
        // Dropping the savepoint rolls it back.
        Err(err) => Err(sqlite_error(err)),
    }
}

fn claim_in(tx: &Connection, claim: &OwnedClaim) -> rusqlite::Result<Claim> {
    let now = now_ms();
    let lease_until = now.saturating_add(millis(claim.lease));
    let expires_at = now.saturating_add(millis(claim.window));
    let existing = tx
        .prepare_cached(
            "SELECT state, owner, fingerprint, lease_until, expires_at, status, answer \
             FROM idempotency WHERE key = ?1",
        )?
        .query_row(params![claim.key], |row| {
            Ok(Existing {
                state: row.get(0)?,
                owner: row.get(1)?,
                fingerprint: row.get(2)?,
                lease_until: row.get(3)?,
                expires_at: row.get(4)?,
                status: row.get(5)?,
                answer: row.get(6)?,
            })
        })
        .optional()?;
    let Some(existing) = existing else {
        // The write lock is held: nobody can insert it meanwhile.
        tx.prepare_cached(
            "INSERT INTO idempotency \
             (key, caller, fingerprint, state, owner, lease_until, created_at, expires_at) \
             VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            claim.key,
            claim.caller,
            claim.fingerprint,
            claim.owner,
            lease_until,
            now,
            expires_at
        ])?;
        return Ok(Claim::Claimed { recovering: false });
    };
    match decide(&existing, &claim.fingerprint, now) {
        Decision::Answer(answer) => Ok(answer),
        Decision::TakeOver { recovering } => {
            tx.prepare_cached(
                "UPDATE idempotency SET state = 'pending', owner = ?2, fingerprint = ?3, \
                 lease_until = ?4, created_at = ?5, expires_at = ?6, status = NULL, \
                 answer = NULL WHERE key = ?1",
            )?
            .execute(params![
                claim.key,
                claim.owner,
                claim.fingerprint,
                lease_until,
                now,
                expires_at
            ])?;
            Ok(Claim::Claimed { recovering })
        }
    }
}

fn finish_in(
    tx: &Connection,
    key: &str,
    owner: &str,
    finish: &Finish,
    window: Duration,
    record: &AuditRecord,
) -> rusqlite::Result<bool> {
    let now = now_ms();
    let changed = match finish {
        Finish::Done { status, answer } => tx
            .prepare_cached(
                "UPDATE idempotency SET state = 'done', status = ?3, answer = ?4, \
                 lease_until = ?5, expires_at = ?6 WHERE key = ?1 AND owner = ?2",
            )?
            .execute(params![
                key,
                owner,
                i64::from(*status),
                answer,
                now,
                now.saturating_add(millis(window))
            ])?,
        Finish::Uncertain => tx
            .prepare_cached(
                "UPDATE idempotency SET state = 'uncertain', lease_until = ?3 \
                 WHERE key = ?1 AND owner = ?2",
            )?
            .execute(params![key, owner, now])?,
        Finish::Release => tx
            .prepare_cached("DELETE FROM idempotency WHERE key = ?1 AND owner = ?2")?
            .execute(params![key, owner])?,
    };
    insert_audit(tx, record)?;
    Ok(changed == 1)
}

fn insert_audit(tx: &Connection, r: &AuditRecord) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "INSERT INTO audit (id, at, request_id, caller, signature, idempotency_key, reporter, \
         assignee, project, issue_type, summary, description, outcome, status, issue_key, \
         issue_url, error, jira_calls, latency_ms) VALUES \
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    )?
    .execute(params![
        r.id,
        r.at_ms,
        r.request_id,
        r.caller,
        r.signature,
        r.idempotency_key,
        r.reporter,
        r.assignee,
        r.project,
        r.issue_type,
        r.summary,
        r.description,
        r.outcome,
        r.status,
        r.issue_key,
        r.issue_url,
        r.error,
        r.jira_calls,
        r.latency_ms
    ])
}
