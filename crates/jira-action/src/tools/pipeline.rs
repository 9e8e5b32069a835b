//! The one pipeline every call runs through: caller identity, access
//! rules, credentials, the arguments, the idempotency claim (or the first
//! answer replayed), the operation under the deadline and the retry
//! budget, the Jira call tally, and the audit record.
//!
//! The whole of it runs in a task of its own, detached from the door: a
//! caller hanging up drops only the door's wait, never a create half-way,
//! so the claim is always ended and the record always written.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jira::{Auth, CallTally, JiraClient};
use secrecy::ExposeSecret;
use tracing::Instrument;

use super::identity::Identity;
use super::{Credentials, Error, FrontDoor, Operation, Principal, Request};
use crate::app::AppState;
use crate::config::JiraCredentials;
use crate::resolve::CacheScope;
use crate::store::{self, AuditRecord, Claim, ClaimRequest, Finish, Outcome};

/// Who is asking, and the Jira client with the credentials to use.
pub struct Caller {
    /// Validated and lowercased.
    pub email: String,
    /// The signed-in person's account: the reporter as is, no search.
    pub account_id: Option<String>,
    pub jira: JiraClient,
    /// Whose Jira answers the resolver's caches may reuse for this call:
    /// shared for the server's credentials, the forwarded credential's
    /// hash in passthrough mode.
    pub scope: CacheScope,
    pub door: FrontDoor,
    pub request_id: String,
    /// The request's identity (see `identity::Identity`), stable across
    /// its retries: what the issue property names. Empty for reads.
    pub idempotency_key: String,
    /// An earlier attempt with this identity may have reached Jira (it died
    /// holding the claim, or its outcome was unknown): look for the issue
    /// before creating it.
    pub recovering: bool,
}

/// A call's answer, and where its time went.
pub struct Finished<T> {
    pub result: Result<T, Error>,
    pub timing: Timing,
}

/// Where a call's time went, for `Server-Timing` and the added-time
/// histogram: Jira's latency told apart from jira-action's own.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timing {
    /// In calls to Jira.
    pub jira: Duration,
    /// Rate limit and retry back-off.
    pub pause: Duration,
    /// Claims and the audit record.
    pub store: Duration,
    /// Everything but `jira` and `pause` (so `store` included).
    pub added: Duration,
}

impl Timing {
    fn of(total: Duration, tally: &CallTally, store: Duration) -> Timing {
        let (jira, pause) = (tally.calling(), tally.pausing());
        Timing {
            jira,
            pause,
            store,
            added: total.saturating_sub(jira + pause),
        }
    }
}

/// Runs one call of `Op` to its end, detached from the caller.
pub async fn run<Op: Operation>(state: Arc<AppState>, request: Request) -> Finished<Op::Output> {
    let started = Instant::now();
    let door = request.door;
    let request_deadline = request.deadline;
    let task = tokio::spawn(
        async move {
            let tally = Arc::new(CallTally::default());
            let mut trace = Trace::new::<Op>(&request);
            let budget = state.config().jira.retry_budget;
            // Boxed: the operation's future is large, and every async
            // layer around it would otherwise copy it when it starts.
            let work = jira::CALL_TALLY.scope(
                Arc::clone(&tally),
                jira::with_retry_budget(budget, Box::pin(steps::<Op>(&state, request, &mut trace))),
            );
            let deadline = request_deadline
                .unwrap_or_else(|| tokio::time::Instant::now() + state.config().request_timeout());
            let result = match tokio::time::timeout_at(deadline, work).await {
                Ok(result) => result,
                Err(_) => Err(Error::Timeout),
            };
            // Jira refused the server's OAuth token (revoked early, or
            // expired sooner than it said): the next call gets a fresh one.
            if let (Some(tokens), Err(Error::Jira(jira::Error::Api { status: 401, .. }))) =
                (state.tokens(), &result)
            {
                tokens.refused().await;
            }
            let in_store = match Op::WRITES {
                true => trace.finish::<Op>(&state, &result, tally.calls()).await,
                false => Duration::ZERO,
            };
            let code = match &result {
                Ok(_) => "ok",
                Err(err) => err.code(),
            };
            state.metrics().tool_call(door.as_str(), Op::NAME, code);
            (result, tally, in_store)
        }
        .instrument(tracing::Span::current()),
    );
    match task.await {
        Ok((result, tally, in_store)) => Finished {
            result,
            timing: Timing::of(started.elapsed(), &tally, in_store),
        },
        Err(failed) => {
            tracing::error!(cause = %failed, "the operation's task failed");
            Finished {
                result: Err(Error::Internal(format!(
                    "the operation's task failed: {failed}"
                ))),
                timing: Timing::default(),
            }
        }
    }
}

/// The steps in the order every door reports their failures: who, whether
/// they may, with which credentials, what they asked, then the claim.
async fn steps<Op: Operation>(
    state: &AppState,
    request: Request,
    trace: &mut Trace,
) -> Result<Op::Output, Error> {
    let principal = request.principal?;
    let account_id = principal.account_id().map(str::to_owned);
    let email = principal.email().to_owned();
    if !state.config().access.caller_allowed(&email) {
        return Err(Error::CallerNotAllowed);
    }
    // A body that did not arrive by the deadline ends the call at once:
    // the deadline has passed, and nothing after this may wait on it.
    if let Err(Error::BodyTimeout) = &request.arguments {
        return Err(Error::BodyTimeout);
    }
    let (jira, scope) = jira_for(state, request.credentials).await?;
    let input = Op::parse(request.arguments?)?;
    let mut caller = Caller {
        email,
        account_id,
        jira,
        scope,
        door: request.door,
        request_id: request.request_id,
        idempotency_key: String::new(),
        recovering: false,
    };
    if !Op::WRITES {
        return Box::pin(Op::run(state, &caller, input, &mut trace.record)).await;
    }
    Op::note_input(&input, &mut trace.record, state.config());
    let given_key = request.idempotency_key?;
    let identity = Identity::of(
        &caller.email,
        &caller.scope,
        given_key.as_deref(),
        &Op::canonical(&input),
    );
    caller.idempotency_key = identity.key.clone();
    match trace.claim(state, &caller.email, &identity).await? {
        Go::Replay(answer) => {
            state.metrics().duplicate_absorbed();
            tracing::info!("repeat of a finished request; answering as before");
            serde_json::from_str(&answer)
                .map_err(|e| Error::Internal(format!("stored answer: {e}")))
        }
        Go::Ahead { recovering } => {
            caller.recovering = recovering;
            trace.recovering = recovering;
            Box::pin(Op::run(state, &caller, input, &mut trace.record)).await
        }
    }
}

/// The Jira client with the credentials this call uses, and the cache
/// scope of those credentials.
async fn jira_for(
    state: &AppState,
    credentials: Credentials,
) -> Result<(JiraClient, CacheScope), Error> {
    let shared = |jira| Ok((jira, CacheScope::SHARED));
    match (credentials, &state.config().jira.credentials) {
        (Credentials::Forwarded(value), _) => {
            let scope = CacheScope::of_credential(value.expose_secret());
            Ok((state.jira().with_auth(Auth::Header(value)), scope))
        }
        (Credentials::Missing, _) => Err(Error::MissingCredentials),
        (
            Credentials::Server,
            JiraCredentials::ApiToken { .. }
            | JiraCredentials::Pat { .. }
            | JiraCredentials::Password { .. },
        ) => shared(state.jira().clone()),
        (Credentials::Server, JiraCredentials::Oauth) => {
            let tokens = Arc::clone(state.tokens().as_ref().ok_or(Error::OAuthReconsentNeeded)?);
            // In a task of its own: a call cut by its deadline must not cut
            // a refresh half-way (the rotated refresh token unstored, the
            // refresh lease held until it runs out, every other call
            // waiting on it).
            let token = tokio::spawn(async move { tokens.access_token().await })
                .await
                .map_err(|e| Error::Internal(format!("the token task failed: {e}")))??;
            shared(state.jira().with_auth(Auth::Bearer(token)))
        }
        // The doors that use server-held credentials are off in
        // passthrough mode; reaching here is a wiring mistake.
        (Credentials::Server, JiraCredentials::Passthrough) => Err(Error::MissingCredentials),
    }
}

/// What a claimed identity lets the request do.
enum Go {
    /// Create the issue; `recovering` when an earlier attempt may have
    /// reached Jira, so the issue is looked for first.
    Ahead { recovering: bool },
    /// Answer what the first request answered (its stored JSON).
    Replay(String),
}

/// A call's audit record in the making, and its claim if it holds one.
struct Trace {
    record: AuditRecord,
    started: Instant,
    /// The identity this call holds, and the token that proves it.
    claimed: Option<(String, String)>,
    /// Time spent waiting on the store (claims, the record's write).
    in_store: Duration,
    /// The claim was taken over from an attempt that may have created the
    /// issue: whatever this one ends with, the claim stays uncertain.
    recovering: bool,
}

impl Trace {
    fn new<Op: Operation>(request: &Request) -> Trace {
        let at_ms = store::now_ms();
        Trace {
            record: AuditRecord {
                // Time-ordered (v7): records go in at the end of the
                // primary key's index instead of on a random page of it
                // (which, over months of retained records, is rarely in
                // cache). WAL frames per commit did not change in the bench:
                // a commit dirties one page of the index either way.
                id: uuid::Uuid::now_v7().to_string(),
                at_ms,
                at: store::rfc3339(at_ms),
                request_id: request.request_id.clone(),
                caller: request
                    .principal
                    .as_ref()
                    .ok()
                    .map(|p| p.email().to_owned()),
                // A signed-in person's account, named even when the call
                // is refused before the reporter is known.
                reporter: request
                    .principal
                    .as_ref()
                    .ok()
                    .and_then(Principal::account_id)
                    .map(str::to_owned),
                signature: request.authenticated.as_str().to_owned(),
                front_door: request.door.as_str().to_owned(),
                client: request.client.clone(),
                operation: Op::NAME.to_owned(),
                outcome: Outcome::Refused,
                ..AuditRecord::default()
            },
            started: Instant::now(),
            claimed: None,
            in_store: Duration::ZERO,
            recovering: false,
        }
    }

    /// Claims the identity, waiting (bounded) while another request holds
    /// it; refuses a reused key, and a request still in progress past the
    /// bound.
    async fn claim(
        &mut self,
        state: &AppState,
        caller: &str,
        identity: &Identity,
    ) -> Result<Go, Error> {
        self.record.idempotency_key = Some(identity.key.clone());
        let owner = uuid::Uuid::new_v4().to_string();
        let mut request = ClaimRequest {
            key: &identity.key,
            caller,
            fingerprint: &identity.fingerprint,
            owner: &owner,
            lease: state.config().lease(),
            window: window(state),
            now_ms: (state.clock())(),
        };
        let bound = state.config().store.wait_for_in_progress;
        let waiting = Instant::now();
        let mut pause = Duration::from_millis(25);
        loop {
            let asked = Instant::now();
            request.now_ms = (state.clock())();
            let claim = state.store().claim(&request).await;
            self.in_store += asked.elapsed();
            match claim.map_err(store_error)? {
                Claim::Claimed { recovering } => {
                    self.claimed = Some((identity.key.clone(), owner));
                    return Ok(Go::Ahead { recovering });
                }
                Claim::Done { answer, .. } => {
                    self.record.outcome = Outcome::Replayed;
                    return Ok(Go::Replay(answer));
                }
                Claim::Reused => return Err(Error::IdempotencyKeyReused),
                Claim::Settling { until_ms } => {
                    tracing::info!(
                        "repeat of a request whose create may still be landing; not looking yet"
                    );
                    return Err(Error::OutcomeUnknown {
                        retry_after_secs: seconds_until(until_ms, request.now_ms),
                    });
                }
                Claim::Pending if waiting.elapsed() >= bound => {
                    return Err(Error::RequestInProgress);
                }
                Claim::Pending => {
                    tokio::time::sleep(pause.min(bound.saturating_sub(waiting.elapsed()))).await;
                    pause = (pause * 2).min(Duration::from_millis(250));
                }
            }
        }
    }

    /// Writes the record (and ends the claim) once the answer is known,
    /// and says how long the call waited on the store in all. A failure
    /// here is logged, never turned into the caller's answer: the issue
    /// exists or it does not, whatever the store says.
    async fn finish<Op: Operation>(
        mut self,
        state: &AppState,
        result: &Result<Op::Output, Error>,
        jira_calls: u32,
    ) -> Duration {
        let finish = match result {
            Ok(answer) => {
                let record = &mut self.record;
                record.status = 200;
                if record.outcome != Outcome::Replayed {
                    record.outcome = Outcome::Created;
                }
                Op::note_output(answer, record);
                match serde_json::to_string(answer) {
                    Ok(answer) => Finish::Done {
                        status: 200,
                        answer,
                    },
                    // Unreachable for the outputs we define; if it were
                    // not, a repeat must look before creating again.
                    Err(err) => {
                        tracing::error!(cause = %err, "cannot store the answer");
                        Finish::Uncertain {
                            settle_until: (state.clock())(),
                        }
                    }
                }
            }
            Err(error) => {
                let record = &mut self.record;
                record.status = i64::from(error.kind().status());
                record.error = Some(error.code().to_owned());
                record.outcome = Outcome::Refused;
                // A recovering attempt that failed leaves the earlier
                // attempt's create as uncertain as it found it.
                if error.outcome_unknown() || self.recovering {
                    let now = (state.clock())();
                    Finish::Uncertain {
                        settle_until: match error.settles() {
                            true => now.saturating_add(
                                i64::try_from(state.config().outcome_settle().as_millis())
                                    .unwrap_or(i64::MAX),
                            ),
                            false => now,
                        },
                    }
                } else {
                    Finish::Release
                }
            }
        };
        self.write(state, &finish, jira_calls).await
    }

    async fn write(mut self, state: &AppState, finish: &Finish, jira_calls: u32) -> Duration {
        let asked = Instant::now();
        let record = &mut self.record;
        record.latency_ms = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX);
        record.jira_calls = i64::from(jira_calls);
        let written = match &self.claimed {
            Some((key, owner)) => state
                .store()
                .finish(key, owner, finish, window(state), record)
                .await
                .map(|held| {
                    if !held {
                        tracing::warn!(
                            "the idempotency claim was taken over before the request ended"
                        );
                    }
                }),
            None => state.store().record(record).await,
        };
        if let Err(err) = written {
            tracing::error!(cause = %err, "cannot write the audit record");
        }
        self.in_store + asked.elapsed()
    }
}

/// Whole seconds from `now_ms` to `until_ms`, rounded up, at least 1: a
/// `Retry-After`.
pub(super) fn seconds_until(until_ms: i64, now_ms: i64) -> u64 {
    let left = u64::try_from(until_ms.saturating_sub(now_ms)).unwrap_or(0);
    left.div_ceil(1000).max(1)
}

fn window(state: &AppState) -> Duration {
    state.config().store.idempotency_window
}

fn store_error(err: store::StoreError) -> Error {
    Error::StoreUnavailable(err.to_string())
}
