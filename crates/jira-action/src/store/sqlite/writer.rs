//! The SQLite store's single writer: one connection that applies claims,
//! claim ends and audit records (and, as boxed jobs, every other write) in
//! batches, one transaction per batch (group commit).
//!
//! Why: SQLite has one writer at a time anyway. Several pooled connections
//! writing at once only meet `SQLITE_BUSY` and sleep in SQLite's busy
//! handler, and sqlx runs every statement as a round trip to a per-connection
//! thread. Here there is no thread to hand over to at all (flat combining):
//! a request queues its operation and, if the connection is free, takes it
//! and applies everything queued (its own and others'), batch after batch,
//! until the queue is empty; a request that finds the connection taken just
//! waits for its answer. At low load a write costs no wake-up of another
//! thread; under load the batches grow and a batch costs one commit.
//! (A dedicated writer thread cost two thread wake-ups per write, which on a
//! busy machine were most of a request's time in the store.) On a
//! multi-threaded runtime the batch runs in `block_in_place`, so the
//! worker's other tasks move on while SQLite works or waits on another
//! process's lock.
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
//! commit would hold every request of its batch for milliseconds. A thread
//! with its own connection checkpoints every second instead (`PASSIVE`,
//! which never blocks the writer), and when the WAL has grown it holds the
//! writer off for a moment to copy the last few frames, so that the WAL
//! starts over and the file stays small (see `Shared::catch_up`).

use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, TryLockError, Weak};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use crate::store::{
    AuditRecord, Claim, Decision, EXISTING_COLUMNS, Existing, Finish, StoreError, decide, millis,
    now_ms,
};

/// How long a write waits for another process holding the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// A WAL longer than this (pages; about 4 MiB) is started over (see
/// `Shared::catch_up`).
const RESTART_AFTER_FRAMES: i64 = 1024;

/// The size the WAL file is cut back to when it starts over, if a burst
/// grew it past that. Below it the file keeps its blocks and SQLite writes
/// over them: cut back and grown again every second, the first commit after
/// each restart paid milliseconds for the truncation.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// A claim, owned so that it can wait in the queue.
#[derive(Debug)]
pub(super) struct OwnedClaim {
    pub key: String,
    pub caller: String,
    pub fingerprint: String,
    pub owner: String,
    pub lease_until: i64,
    pub expires_at: i64,
    pub now_ms: i64,
}

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
    /// Any other write: rarer, so boxed.
    Job(Box<dyn Job>),
}

/// A write that is none of the batched operations, run in its own
/// savepoint like them.
trait Job: Send {
    fn run(self: Box<Self>, connection: &mut Connection) -> Answer;
    /// Answered "closed" without running (see [`Answer::unapplied`]).
    fn unapplied(self: Box<Self>) -> Answer;
}

struct TypedJob<T, F> {
    work: F,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
{
    fn run(self: Box<Self>, connection: &mut Connection) -> Answer {
        let TypedJob { work, reply } = *self;
        Answer::Job(Box::new(JobAnswer(reply, in_savepoint(connection, work))))
    }

    fn unapplied(self: Box<Self>) -> Answer {
        Answer::Job(Box::new(JobAnswer(self.reply, Err(closed()))))
    }
}

/// A job's answer, held until its batch commits.
trait Reply: Send {
    fn send(self: Box<Self>);
    fn fail(self: Box<Self>, err: &StoreError);
}

struct JobAnswer<T>(
    oneshot::Sender<Result<T, StoreError>>,
    Result<T, StoreError>,
);

impl<T: Send> Reply for JobAnswer<T> {
    fn send(self: Box<Self>) {
        let JobAnswer(reply, result) = *self;
        drop(reply.send(result));
    }

    fn fail(self: Box<Self>, err: &StoreError) {
        drop(self.0.send(Err(StoreError::Sqlite(err.to_string()))));
    }
}

/// The writer's handle; clones share the one connection.
#[derive(Clone)]
pub struct Writer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

struct Shared {
    /// Whoever holds it applies the queue; `None` once closed.
    connection: Mutex<Option<Connection>>,
    /// Operations waiting for a batch.
    queue: Mutex<Vec<Op>>,
    /// Dropping it stops the checkpointer.
    checkpoints: Mutex<Option<std::sync::mpsc::Sender<CheckpointNow>>>,
}

/// Asks the checkpointer for a round now rather than at its next tick, and
/// is answered when it is done: tests need not wait for the timer.
struct CheckpointNow(std::sync::mpsc::Sender<()>);

pub(super) fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in another holder left nothing half-done that matters here:
    // the connection rolls back an unfinished transaction on its next use.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn closed() -> StoreError {
    StoreError::Unsupported("the store is closed")
}

impl Writer {
    /// Opens a connection to the (already migrated) file and starts the
    /// checkpointer's thread.
    pub(super) fn start(path: &Path) -> Result<Writer, StoreError> {
        let connection = Connection::open(path).map_err(sqlite_error)?;
        // The journal mode is the file's (set at open); synchronous is
        // per connection: NORMAL under WAL survives a process crash.
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite_error)?;
        // A batch runs on the caller's thread and must not wait there for
        // another writer: it finds out at once and then waits off the
        // runtime (see `begin`).
        connection
            .busy_timeout(Duration::ZERO)
            .map_err(sqlite_error)?;
        // Checkpoints are the checkpointer's (see the module's comment).
        connection
            .pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(sqlite_error)?;
        connection
            .pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)
            .map_err(sqlite_error)?;
        connection.set_prepared_statement_cache_capacity(16);
        let checkpoints = Connection::open(path).map_err(sqlite_error)?;
        checkpoints
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(sqlite_error)?;
        let (running, stopped) = std::sync::mpsc::channel::<CheckpointNow>();
        let shared = Arc::new(Shared {
            connection: Mutex::new(Some(connection)),
            queue: Mutex::new(Vec::new()),
            checkpoints: Mutex::new(Some(running)),
        });
        // Weak: a writer dropped without `close` still stops it.
        let writer = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || checkpoint_until(&checkpoints, &stopped, &writer))
            .map_err(|e| StoreError::Io(e.to_string()))?;
        Ok(Writer { shared })
    }

    async fn call<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Op,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        locked(&self.shared.queue).push(op(reply));
        self.shared.combine();
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

    /// Runs `work` in the next batch, in a savepoint of its own; answered
    /// once the batch has committed.
    pub(super) async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.call(|reply| Op::Job(Box::new(TypedJob { work, reply })))
            .await
    }

    /// Runs a checkpoint round now, on the checkpointer's thread, and
    /// waits for it to end (tests: the timer's round, without the wait).
    #[cfg(test)]
    pub(super) async fn checkpoint_now(&self) {
        let (done, finished) = std::sync::mpsc::channel();
        if let Some(checkpointer) = locked(&self.shared.checkpoints).as_ref() {
            let _ = checkpointer.send(CheckpointNow(done));
        }
        let _ = tokio::task::spawn_blocking(move || finished.recv()).await;
    }

    /// Applies what is queued, then closes the connection (later
    /// operations are refused) and stops the checkpointer after a last
    /// checkpoint.
    pub(super) async fn close(&self) {
        let shared = Arc::clone(&self.shared);
        let closing = move || {
            let mut connection = locked(&shared.connection);
            let queued = std::mem::take(&mut *locked(&shared.queue));
            if let Some(open) = connection.as_mut() {
                apply_and_answer(open, queued);
            }
            *connection = None;
            locked(&shared.checkpoints).take();
        };
        // It may wait for a batch in progress: not on a runtime's worker.
        if let Err(err) = tokio::task::spawn_blocking(closing).await {
            tracing::error!(cause = %err, "store: closing the writer failed");
        }
    }
}

/// The most batches one caller applies before handing the rest of the
/// queue to a task of its own: bounds what a request pays for others.
const BATCHES_PER_CALLER: usize = 4;

impl Shared {
    /// Applies the queue if no one else is: whoever finds the connection
    /// free applies every queued operation, batch after batch, until the
    /// queue is empty (or, past [`BATCHES_PER_CALLER`], leaves the rest to
    /// a task it spawns). A caller that finds it taken leaves its operation
    /// to the holder, who looks at the queue again after letting go (so an
    /// operation queued just before that is never left behind).
    fn combine(self: &Arc<Self>) {
        let mut batches = 0;
        loop {
            let mut connection = match self.connection.try_lock() {
                Ok(guard) => guard,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => return,
            };
            loop {
                if batches == BATCHES_PER_CALLER
                    && !locked(&self.queue).is_empty()
                    && let Ok(runtime) = tokio::runtime::Handle::try_current()
                {
                    drop(connection);
                    let shared = Arc::clone(self);
                    runtime.spawn(async move { shared.combine() });
                    return;
                }
                let batch = std::mem::take(&mut *locked(&self.queue));
                if batch.is_empty() {
                    break;
                }
                batches += 1;
                match connection.as_mut() {
                    Some(open) => apply_and_answer(open, batch),
                    None => batch.into_iter().for_each(refuse),
                }
            }
            drop(connection);
            if locked(&self.queue).is_empty() {
                return;
            }
        }
    }
}

/// Runs `work` in `block_in_place` on a multi-threaded runtime (the
/// worker's other tasks move to another thread meanwhile), as it is
/// elsewhere (a current-thread runtime, as in tests and one-shot commands).
/// Only for waiting on another writer: `block_in_place` hands the worker
/// to a new thread, which costs more than a batch does.
fn off_the_runtime<R>(work: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// One batch: applied in one transaction, answered after it commits.
fn apply_and_answer(connection: &mut Connection, batch: Vec<Op>) {
    let mut answers = Vec::with_capacity(batch.len());
    match apply(connection, batch.into_iter(), &mut answers) {
        Ok(()) => answers.into_iter().for_each(Answer::send),
        Err(err) => {
            tracing::error!(cause = %err, "store: a batch did not commit");
            answers.into_iter().for_each(|a| a.fail(&err));
        }
    }
}

pub(super) fn sqlite_error(err: rusqlite::Error) -> StoreError {
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
    Job(Box<dyn Reply>),
}

impl Answer {
    fn send(self) {
        // A receiver that went away (its request was dropped) needs no answer.
        match self {
            Answer::Claim(reply, result) => drop(reply.send(result)),
            Answer::Held(reply, result) => drop(reply.send(result)),
            Answer::Recorded(reply, result) => drop(reply.send(result)),
            Answer::Job(reply) => reply.send(),
        }
    }

    /// An operation that will not be applied, answered "closed" unless
    /// [`Answer::fail`] gives it the reason (its batch could not begin).
    fn unapplied(op: Op) -> Answer {
        match op {
            Op::Claim(_, reply) => Answer::Claim(reply, Err(closed())),
            Op::Finish { reply, .. } => Answer::Held(reply, Err(closed())),
            Op::Record(_, reply) => Answer::Recorded(reply, Err(closed())),
            Op::Job(job) => job.unapplied(),
        }
    }

    /// The batch did not commit: every operation in it failed.
    fn fail(self, err: &StoreError) {
        let err = || StoreError::Sqlite(err.to_string());
        match self {
            Answer::Claim(reply, _) => drop(reply.send(Err(err()))),
            Answer::Held(reply, _) => drop(reply.send(Err(err()))),
            Answer::Recorded(reply, _) => drop(reply.send(Err(err()))),
            Answer::Job(reply) => reply.fail(&err()),
        }
    }
}

/// Checkpoints every [`CHECKPOINT_EVERY`] until the writer stops (its end
/// of `stopped` is dropped, or the writer is gone), and once more then.
fn checkpoint_until(
    connection: &Connection,
    stopped: &std::sync::mpsc::Receiver<CheckpointNow>,
    writer: &Weak<Shared>,
) {
    loop {
        let (last, asked) = match stopped.recv_timeout(CHECKPOINT_EVERY) {
            Ok(CheckpointNow(done)) => (false, Some(done)),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => (false, None),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => (true, None),
        };
        match passive_checkpoint(connection) {
            Ok(frames) if frames > RESTART_AFTER_FRAMES && !last => {
                if let Some(writer) = writer.upgrade() {
                    writer.catch_up(connection);
                }
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(cause = %err, "store: checkpoint failed"),
        }
        if let Some(done) = asked {
            let _ = done.send(());
        }
        if last || writer.strong_count() == 0 {
            return;
        }
    }
}

/// `PRAGMA wal_checkpoint(PASSIVE)`; the WAL's length in pages.
fn passive_checkpoint(connection: &Connection) -> rusqlite::Result<i64> {
    // The row is (busy, WAL frames, frames checkpointed).
    connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
}

impl Shared {
    /// Under steady writes a passive checkpoint never quite reaches the end
    /// of the WAL, and SQLite starts the WAL over only once one has: the
    /// file would grow without end. So when it has grown past
    /// [`RESTART_AFTER_FRAMES`], the checkpointer makes a second pass
    /// (copying what was written during the first, which takes tens of
    /// milliseconds over a second of writes), then holds the writer off
    /// while it copies the last few frames; the next batch starts the WAL
    /// over. Requests queue meanwhile, on no runtime thread, and the
    /// checkpointer applies what queued when it lets go.
    fn catch_up(self: &Arc<Self>, checkpoints: &Connection) {
        if let Err(err) = passive_checkpoint(checkpoints) {
            tracing::warn!(cause = %err, "store: checkpoint failed");
            return;
        }
        {
            let _writer = locked(&self.connection);
            if let Err(err) = passive_checkpoint(checkpoints) {
                tracing::warn!(cause = %err, "store: checkpoint failed");
            }
        }
        self.combine();
    }
}

/// Answers an operation the closed store will not apply.
fn refuse(op: Op) {
    Answer::unapplied(op).send();
}

/// One transaction for the whole batch, one savepoint per operation.
fn apply(
    connection: &mut Connection,
    batch: impl Iterator<Item = Op>,
    answers: &mut Vec<Answer>,
) -> Result<(), StoreError> {
    if let Err(err) = begin(connection) {
        // Every operation gets the error (see `Answer::fail`).
        answers.extend(batch.map(Answer::unapplied));
        return Err(sqlite_error(err));
    }
    for op in batch {
        let answer = match op {
            Op::Claim(claim, reply) => {
                Answer::Claim(reply, in_savepoint(connection, |tx| claim_in(tx, &claim)))
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
                in_savepoint(connection, |tx| {
                    finish_in(tx, &key, &owner, &finish, window, &record)
                }),
            ),
            Op::Record(record, reply) => Answer::Recorded(
                reply,
                in_savepoint(connection, |tx| insert_audit(tx, &record).map(drop)),
            ),
            Op::Job(job) => job.run(connection),
        };
        answers.push(answer);
    }
    connection.execute_batch("COMMIT").map_err(|err| {
        let _ = connection.execute_batch("ROLLBACK");
        sqlite_error(err)
    })
}

/// `BEGIN IMMEDIATE`: takes the write lock at once when it is free (the
/// usual case: this is the process's only writer of requests). When another
/// connection holds it (this process's pool at a retention sweep, or
/// another process sharing the file), waits up to [`BUSY_TIMEOUT`] off the
/// runtime.
fn begin(connection: &mut Connection) -> rusqlite::Result<()> {
    if !connection.is_autocommit() {
        // A batch cut short (it cannot be, short of a panic) left its
        // transaction open: nothing of it was answered, so undo it.
        connection.execute_batch("ROLLBACK")?;
    }
    match connection.execute_batch("BEGIN IMMEDIATE") {
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DatabaseBusy =>
        {
            tracing::debug!("store: another writer holds the database; waiting");
        }
        other => return other,
    }
    connection.busy_timeout(BUSY_TIMEOUT)?;
    let began = off_the_runtime(|| connection.execute_batch("BEGIN IMMEDIATE"));
    connection.busy_timeout(Duration::ZERO)?;
    began
}

/// Runs `f` in a savepoint: its writes are kept if it succeeds and undone
/// if it fails, without ending the batch's transaction.
fn in_savepoint<T>(
    connection: &mut Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> Result<T, StoreError> {
    let savepoint = connection.savepoint().map_err(sqlite_error)?;
    match f(&savepoint) {
        Ok(value) => {
            savepoint.commit().map_err(sqlite_error)?;
            Ok(value)
        }
        // Dropping the savepoint rolls it back.
        Err(err) => Err(sqlite_error(err)),
    }
}

/// A key's existing row; built once, not on every claim.
static SELECT_EXISTING: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {EXISTING_COLUMNS} FROM idempotency WHERE key = ?1"));

fn claim_in(tx: &Connection, claim: &OwnedClaim) -> rusqlite::Result<Claim> {
    let (now, lease_until, expires_at) = (claim.now_ms, claim.lease_until, claim.expires_at);
    let existing = tx
        .prepare_cached(&SELECT_EXISTING)?
        .query_row(params![claim.key], |row| {
            Ok(Existing {
                state: row.get(0)?,
                owner: row.get(1)?,
                fingerprint: row.get(2)?,
                lease_until: row.get(3)?,
                expires_at: row.get(4)?,
                status: row.get(5)?,
                answer: row.get(6)?,
                settle_until: row.get(7)?,
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
        Finish::Uncertain { settle_until } => tx
            .prepare_cached(
                "UPDATE idempotency SET state = 'uncertain', lease_until = ?3, \
                 settle_until = CASE WHEN settle_until > ?4 THEN settle_until ELSE ?4 END \
                 WHERE key = ?1 AND owner = ?2",
            )?
            .execute(params![key, owner, now, settle_until])?,
        Finish::Release => tx
            .prepare_cached("DELETE FROM idempotency WHERE key = ?1 AND owner = ?2")?
            .execute(params![key, owner])?,
    };
    insert_audit(tx, record)?;
    Ok(changed == 1)
}

pub(super) fn insert_audit(tx: &Connection, r: &AuditRecord) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "INSERT INTO audit (id, at, request_id, caller, signature, idempotency_key, reporter, \
         assignee, project, issue_type, summary, description, outcome, status, issue_key, \
         issue_url, error, jira_calls, latency_ms, front_door, client, operation, count, reason) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
         ?19, ?20, ?21, ?22, ?23, ?24)",
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
        r.outcome.as_str(),
        r.status,
        r.issue_key,
        r.issue_url,
        r.error,
        r.jira_calls,
        r.latency_ms,
        r.front_door,
        r.client,
        r.operation,
        r.count,
        r.reason
    ])
}
