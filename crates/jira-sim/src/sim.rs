//! The simulator's shared state, its test API and its server loop.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use crate::config::{Credential, Flavor, HiddenEmailMatch, SimConfig, UserSearchDenied};
use crate::directory::Directory;
use crate::fault::{Endpoint, Fault};
use crate::model::{CreateScreen, CustomField, IssueType, Priority, Project, User};

/// An issue as the simulator stored it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredIssue {
    pub id: String,
    pub key: String,
    pub project_id: String,
    pub project_key: String,
    pub issue_type_id: String,
    pub summary: String,
    /// The ADF document, as sent; on Data Center the wiki markup string,
    /// as sent (see [`StoredIssue::description_text`]). `None` once
    /// dropped by [`SimConfig::retain_bodies`](crate::SimConfig::retain_bodies).
    pub description: Option<Value>,
    /// Always set: the request's, else the project's default priority.
    pub priority_id: Option<String>,
    pub component_ids: Vec<String>,
    /// Account id.
    pub assignee: Option<String>,
    /// Account id: the request's, else the caller's.
    pub reporter: Option<String>,
    /// Account id of the caller.
    pub creator: String,
    /// Data Center: the reporter's username at creation (`None` on Cloud).
    pub reporter_name: Option<String>,
    /// Data Center: the assignee's username at creation (`None` on Cloud).
    pub assignee_name: Option<String>,
    pub labels: Vec<String>,
    /// `YYYY-MM-DD`.
    pub duedate: Option<String>,
    pub parent_id: Option<String>,
    pub parent_key: Option<String>,
    /// Custom field values by field id, normalized (a select as
    /// `{"id", "value"}`); also any other field a custom screen allowed,
    /// as sent.
    pub custom_fields: BTreeMap<String, Value>,
    /// Issue properties set at creation.
    pub properties: BTreeMap<String, Value>,
    pub created: SystemTime,
    /// The create request's body, as received (empty once dropped by
    /// [`SimConfig::retain_bodies`](crate::SimConfig::retain_bodies)).
    /// The received bytes themselves: keeping them costs no copy.
    pub request: Bytes,
}

impl StoredIssue {
    /// The description as the raw string sent (Data Center's wiki
    /// markup); `None` for an ADF description or none.
    pub fn description_text(&self) -> Option<&str> {
        self.description.as_ref().and_then(Value::as_str)
    }
}

/// Site configuration and directory, read by nearly every request.
pub(crate) struct World {
    pub(crate) directory: Directory,
    pub(crate) projects: Vec<Project>,
    pub(crate) priorities: Vec<Priority>,
    pub(crate) issue_types: Vec<IssueType>,
    pub(crate) custom_fields: Vec<CustomField>,
}

impl World {
    pub(crate) fn project(&self, id_or_key: &str) -> Option<&Project> {
        self.projects
            .iter()
            .find(|p| p.key == id_or_key || p.id == id_or_key)
    }

    pub(crate) fn issue_type(&self, id: &str) -> Option<&IssueType> {
        self.issue_types.iter().find(|t| t.id == id)
    }

    pub(crate) fn priority(&self, id: &str) -> Option<&Priority> {
        self.priorities.iter().find(|p| p.id == id)
    }

    pub(crate) fn custom_field(&self, id: &str) -> Option<&CustomField> {
        self.custom_fields.iter().find(|f| f.id == id)
    }
}

#[derive(Default)]
pub(crate) struct IssueStore {
    pub(crate) issues: Vec<StoredIssue>,
    /// See [`SimConfig::retain_bodies`].
    retain_bodies: Option<usize>,
    by_key: HashMap<String, usize>,
    by_id: HashMap<String, usize>,
    next_number: HashMap<String, u64>,
    next_id: u64,
}

impl IssueStore {
    fn with_capacity(issues: usize, retain_bodies: Option<usize>) -> IssueStore {
        IssueStore {
            issues: Vec::with_capacity(issues),
            retain_bodies,
            by_key: HashMap::with_capacity(issues),
            by_id: HashMap::with_capacity(issues),
            ..IssueStore::default()
        }
    }

    pub(crate) fn find(&self, id_or_key: &str) -> Option<&StoredIssue> {
        self.by_key
            .get(id_or_key)
            .or_else(|| self.by_id.get(id_or_key))
            .map(|i| &self.issues[*i])
    }

    pub(crate) fn find_mut(&mut self, id_or_key: &str) -> Option<&mut StoredIssue> {
        let at = *self
            .by_key
            .get(id_or_key)
            .or_else(|| self.by_id.get(id_or_key))?;
        self.issues.get_mut(at)
    }

    /// Gives the issue its id and key (`{PROJECT}-{n}`, counting per
    /// project) and stores it; returns the id and key.
    pub(crate) fn insert(&mut self, mut issue: StoredIssue) -> (String, String) {
        let id = 10_000 + self.next_id;
        self.next_id += 1;
        let number = self
            .next_number
            .entry(issue.project_key.clone())
            .or_insert(0);
        *number += 1;
        issue.id = id.to_string();
        issue.key = format!("{}-{}", issue.project_key, number);
        let index = self.issues.len();
        self.by_key.insert(issue.key.clone(), index);
        self.by_id.insert(issue.id.clone(), index);
        let named = (issue.id.clone(), issue.key.clone());
        self.issues.push(issue);
        if let Some(keep) = self.retain_bodies
            && let Some(old) = index.checked_sub(keep)
            && let Some(old) = self.issues.get_mut(old)
        {
            old.description = None;
            old.request = Bytes::new();
        }
        named
    }
}

pub(crate) struct Inner {
    pub(crate) flavor: Flavor,
    /// `/jira`-style, without a trailing slash; `None`: the root.
    pub(crate) context_path: Option<String>,
    pub(crate) cloud_id: String,
    pub(crate) site_name: String,
    pub(crate) site_url: Option<String>,
    pub(crate) oauth_scopes: Vec<String>,
    pub(crate) user_search_denied: UserSearchDenied,
    pub(crate) hidden_email_match: HiddenEmailMatch,
    /// See [`SimConfig::validate_adf`].
    pub(crate) validate_adf: bool,
    latency_us: AtomicU64,
    /// Requests being answered now (see [`Sim::requests_in_progress`]).
    pub(crate) in_progress: AtomicU64,
    /// How far tests moved the simulator's clock (see [`Sim::advance_clock`]).
    ahead_us: AtomicU64,
    /// How long a new issue stays out of search results (see
    /// [`Sim::set_search_lag`]).
    pub(crate) search_lag_us: AtomicU64,
    /// Headers added to every REST answer (e.g. rate-limit headers).
    extra_headers: Mutex<Vec<(String, String)>>,
    counters: Vec<AtomicU64>,
    faults: Mutex<VecDeque<Fault>>,
    pub(crate) world: RwLock<World>,
    pub(crate) issues: RwLock<IssueStore>,
    pub(crate) credentials: RwLock<Vec<Credential>>,
    pub(crate) oauth_config: crate::oauth::OAuthConfig,
    pub(crate) oauth: Mutex<crate::oauth::OAuthState>,
}

/// A simulated Jira site (Cloud or Data Center, see
/// [`SimConfig::flavor`](crate::SimConfig::flavor)). Cheap to clone:
/// clones share state.
#[derive(Clone)]
pub struct Sim {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("cloud_id", &self.inner.cloud_id)
            .finish_non_exhaustive()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

impl Sim {
    /// Ends every OAuth access token now, as if it had expired (for
    /// "a token expiring mid-run").
    pub fn expire_access_tokens(&self) {
        lock(&self.inner.oauth).expire_access_tokens();
    }

    /// Moves the simulator's clock ahead by `by`, so that a test need not
    /// wait for it: OAuth tokens and codes expire, rotated refresh tokens
    /// pass their reuse interval, and new issues reach search through its
    /// lag (see [`Sim::set_search_lag`]).
    pub fn advance_clock(&self, by: Duration) {
        lock(&self.inner.oauth).advance(by);
        self.inner
            .ahead_us
            .fetch_add(duration_us(by), Ordering::SeqCst);
    }

    /// "Now" for the search index's lag: real time, plus what tests moved.
    pub(crate) fn now(&self) -> SystemTime {
        SystemTime::now() + Duration::from_micros(self.inner.ahead_us.load(Ordering::SeqCst))
    }

    /// How many refresh-token grants the authorization server answered.
    pub fn oauth_refreshes(&self) -> u64 {
        lock(&self.inner.oauth).refreshes
    }

    /// Builds the simulator (indexes the users; fast even for a million).
    pub fn new(config: SimConfig) -> Sim {
        let SimConfig {
            site,
            cloud_id,
            site_name,
            site_url,
            latency,
            credentials,
            oauth_scopes,
            user_search_denied,
            hidden_email_match,
            oauth,
            validate_adf,
            retain_bodies,
            expected_issues,
            flavor,
            context_path,
        } = config;
        // `jira/`, `/jira/` and `/jira` all mean `/jira`; `/` is the root.
        let context_path = context_path
            .map(|p| format!("/{}", p.trim_matches('/')))
            .filter(|p| p != "/");
        let world = World {
            directory: Directory::new(site.users),
            projects: site.projects,
            priorities: site.priorities,
            issue_types: site.issue_types,
            custom_fields: site.custom_fields,
        };
        Sim {
            inner: Arc::new(Inner {
                flavor,
                context_path,
                cloud_id,
                site_name,
                site_url: site_url.map(|u| u.trim_end_matches('/').to_owned()),
                oauth_scopes,
                user_search_denied,
                hidden_email_match,
                latency_us: AtomicU64::new(duration_us(latency)),
                in_progress: AtomicU64::new(0),
                ahead_us: AtomicU64::new(0),
                search_lag_us: AtomicU64::new(0),
                extra_headers: Mutex::new(Vec::new()),
                counters: Endpoint::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
                faults: Mutex::new(VecDeque::new()),
                world: RwLock::new(world),
                issues: RwLock::new(IssueStore::with_capacity(expected_issues, retain_bodies)),
                validate_adf,
                credentials: RwLock::new(credentials),
                oauth_config: oauth,
                oauth: Mutex::new(crate::oauth::OAuthState::default()),
            }),
        }
    }

    /// The site's cloud id.
    pub fn cloud_id(&self) -> &str {
        &self.inner.cloud_id
    }

    /// Cloud or Data Center.
    pub fn flavor(&self) -> Flavor {
        self.inner.flavor
    }

    /// The context path (`/jira`), normalized; `None` at the root.
    pub fn context_path(&self) -> Option<&str> {
        self.inner.context_path.as_deref()
    }

    /// Requests to `endpoint` so far (faulted ones included).
    pub fn calls(&self, endpoint: Endpoint) -> u64 {
        self.inner.counters[endpoint.index()].load(Ordering::Relaxed)
    }

    /// Requests being answered now: one whose client went away counts
    /// until the simulator finished or dropped it, so a test can wait for
    /// a late create to land (or not) before counting issues.
    pub fn requests_in_progress(&self) -> u64 {
        self.inner.in_progress.load(Ordering::SeqCst)
    }

    /// Requests to any endpoint so far.
    pub fn total_calls(&self) -> u64 {
        self.inner
            .counters
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    pub fn reset_calls(&self) {
        for c in &self.inner.counters {
            c.store(0, Ordering::Relaxed);
        }
    }

    pub(crate) fn count(&self, endpoint: Endpoint) {
        self.inner.counters[endpoint.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Every issue created, in creation order.
    pub fn issues(&self) -> Vec<StoredIssue> {
        read(&self.inner.issues).issues.clone()
    }

    /// The issue with this key (or id).
    pub fn issue(&self, key: &str) -> Option<StoredIssue> {
        read(&self.inner.issues).find(key).cloned()
    }

    /// Latency added to every request from now on.
    pub fn set_latency(&self, latency: Duration) {
        self.inner
            .latency_us
            .store(duration_us(latency), Ordering::Relaxed);
    }

    pub(crate) fn latency(&self) -> Duration {
        Duration::from_micros(self.inner.latency_us.load(Ordering::Relaxed))
    }

    /// From now on, an issue is found by `search/jql` only this long after
    /// it was created (`GET issue/{key}` finds it at once). Jira's search
    /// reads an index that is updated after the create commits: Atlassian
    /// documents search as eventually consistent (the `reconcileIssues`
    /// parameter exists to read one's own writes by issue id), so a client
    /// that searches right after a create may not see it yet.
    pub fn set_search_lag(&self, lag: Duration) {
        self.inner
            .search_lag_us
            .store(duration_us(lag), Ordering::Relaxed);
    }

    pub(crate) fn search_lag(&self) -> Duration {
        Duration::from_micros(self.inner.search_lag_us.load(Ordering::Relaxed))
    }

    /// Headers added to every REST answer from now on (replacing earlier
    /// ones), e.g. `X-RateLimit-Remaining` or `X-RateLimit-NearLimit`, as
    /// Jira sends when a site nears its limits.
    pub fn set_response_headers(&self, headers: &[(&str, &str)]) {
        *lock(&self.inner.extra_headers) = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
    }

    pub(crate) fn response_headers(&self) -> Vec<(String, String)> {
        lock(&self.inner.extra_headers).clone()
    }

    /// Queues a fault; faults apply in push order to matching requests,
    /// each `times` times. A fault with `times == 0` is ignored.
    pub fn push_fault(&self, fault: Fault) {
        if fault.times > 0 {
            lock(&self.inner.faults).push_back(fault);
        }
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear();
    }

    /// Faults not yet used up.
    pub fn pending_faults(&self) -> Vec<Fault> {
        lock(&self.inner.faults).iter().cloned().collect()
    }

    /// Takes one use of the first fault matching `endpoint`.
    pub(crate) fn take_fault(&self, endpoint: Endpoint) -> Option<Fault> {
        let mut faults = lock(&self.inner.faults);
        let at = faults
            .iter()
            .position(|f| f.endpoint.is_none_or(|e| e == endpoint))?;
        let fault = faults.get_mut(at)?;
        fault.times = fault.times.saturating_sub(1);
        let taken = fault.clone();
        if fault.times == 0 {
            faults.remove(at);
        }
        Some(taken)
    }

    /// Adds a user, or replaces the one with the same account id.
    pub fn add_user(&self, user: User) {
        write(&self.inner.world).directory.upsert(user);
    }

    /// A user of the directory.
    pub fn user(&self, account_id: &str) -> Option<User> {
        read(&self.inner.world).directory.get(account_id).cloned()
    }

    /// The user with this Data Center username (case-insensitive).
    pub fn user_by_name(&self, name: &str) -> Option<User> {
        read(&self.inner.world).directory.by_name(name).cloned()
    }

    /// Activates or deactivates a user; `false` if there is no such user.
    pub fn set_user_active(&self, account_id: &str, active: bool) -> bool {
        match write(&self.inner.world).directory.get_mut(account_id) {
            Some(user) => {
                user.active = active;
                true
            }
            None => false,
        }
    }

    /// Sets the create screen of a project (id or key) and issue type;
    /// `false` if either is unknown.
    pub fn set_screen(&self, project: &str, issue_type_id: &str, screen: CreateScreen) -> bool {
        let mut world = write(&self.inner.world);
        if world.issue_type(issue_type_id).is_none() {
            return false;
        }
        match world
            .projects
            .iter_mut()
            .find(|p| p.key == project || p.id == project)
        {
            Some(p) => {
                p.screens.insert(issue_type_id.to_owned(), screen);
                true
            }
            None => false,
        }
    }

    /// The create screen a project and issue type currently have.
    pub fn screen(&self, project: &str, issue_type_id: &str) -> Option<CreateScreen> {
        let world = read(&self.inner.world);
        let issue_type = world.issue_type(issue_type_id)?;
        Some(world.project(project)?.screen_for(issue_type))
    }

    /// Adds (or replaces) a custom field definition.
    pub fn add_custom_field(&self, field: CustomField) {
        let mut world = write(&self.inner.world);
        world.custom_fields.retain(|f| f.id != field.id);
        world.custom_fields.push(field);
    }

    /// Adds (or replaces) a project, by id.
    pub fn add_project(&self, project: Project) {
        let mut world = write(&self.inner.world);
        world.projects.retain(|p| p.id != project.id);
        world.projects.push(project);
    }

    /// Adds a credential (e.g. a token minted by an OAuth flow).
    pub fn add_credential(&self, credential: Credential) {
        write(&self.inner.credentials).push(credential);
    }

    /// Removes every credential with this kind (token revoked).
    pub fn remove_credential(&self, kind: &crate::config::CredentialKind) {
        write(&self.inner.credentials).retain(|c| c.kind != *kind);
    }

    /// Replaces all credentials.
    pub fn set_credentials(&self, credentials: Vec<Credential>) {
        *write(&self.inner.credentials) = credentials;
    }

    /// The API as an axum router, for in-process use (e.g. with
    /// `tower::ServiceExt::oneshot` or `axum::serve`). Prefer
    /// [`Sim::serve`] or [`Sim::spawn`] for a real socket: only they can
    /// drop connections for [`FaultKind::ApplyThenDrop`](crate::FaultKind::ApplyThenDrop).
    pub fn router(&self) -> axum::Router {
        crate::http::router(self.clone())
    }

    /// Builds a simulator and serves it on `127.0.0.1:0` in a tokio task.
    pub async fn spawn(config: SimConfig) -> io::Result<SimHandle> {
        Sim::new(config)
            .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
    }

    /// Serves this simulator on `addr` in a tokio task until the handle is
    /// dropped.
    pub async fn listen(&self, addr: SocketAddr) -> io::Result<SimHandle> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (shutdown, stop) = watch::channel(());
        let sim = self.clone();
        tokio::spawn(async move { sim.accept_loop(listener, stop).await });
        Ok(SimHandle {
            addr,
            sim: self.clone(),
            _shutdown: shutdown,
        })
    }

    /// Serves this simulator on an existing listener, forever.
    pub async fn serve(&self, listener: TcpListener) -> io::Result<()> {
        let (_keep, stop) = watch::channel(());
        self.accept_loop(listener, stop).await;
        Ok(())
    }

    /// One task per connection, each able to drop its connection when a
    /// handler asks (see [`ConnAbort`]); all stop when `stop`'s sender goes.
    async fn accept_loop(&self, listener: TcpListener, mut stop: watch::Receiver<()>) {
        let router = self.router();
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.changed() => return,
            };
            match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(router.clone(), stream, stop.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off, go on.
                    tracing::warn!(error = %e, "jira-sim: accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
}

fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Lets a handler drop the connection its request came on, without a
/// response (see [`FaultKind::ApplyThenDrop`](crate::FaultKind::ApplyThenDrop)).
#[derive(Clone, Default)]
pub(crate) struct ConnAbort(Arc<Notify>);

impl ConnAbort {
    pub(crate) fn abort(&self) {
        // notify_one keeps a permit if the connection task is not waiting
        // yet, so the abort cannot be missed.
        self.0.notify_one();
    }
}

async fn serve_connection(router: axum::Router, stream: TcpStream, mut stop: watch::Receiver<()>) {
    let _ = stream.set_nodelay(true);
    let abort = ConnAbort::default();
    let for_requests = abort.clone();
    let service =
        hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(for_requests.clone());
            router.clone().oneshot(req.map(axum::body::Body::new))
        });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    tokio::select! {
        biased;
        () = abort.0.notified() => {}
        _ = stop.changed() => {}
        result = conn => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "jira-sim: connection ended with an error");
            }
        }
    }
}

/// A simulator serving on a local port. Dropping it stops the server and
/// closes its connections.
#[derive(Debug)]
pub struct SimHandle {
    pub addr: SocketAddr,
    pub sim: Sim,
    _shutdown: watch::Sender<()>,
}

impl SimHandle {
    /// `http://127.0.0.1:{port}` plus any context path (`/jira`): the
    /// site URL form's base.
    pub fn base_url(&self) -> String {
        format!(
            "http://{}{}",
            self.addr,
            self.sim.context_path().unwrap_or_default()
        )
    }

    /// `{base_url}/ex/jira/{cloudId}`: the OAuth gateway form's base
    /// (Cloud only: Data Center answers 404 there).
    pub fn gateway_url(&self) -> String {
        format!("{}/ex/jira/{}", self.base_url(), self.sim.cloud_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(summary: &str) -> StoredIssue {
        StoredIssue {
            id: String::new(),
            key: String::new(),
            project_id: "10000".into(),
            project_key: "DEMO".into(),
            issue_type_id: "10001".into(),
            summary: summary.into(),
            description: Some(serde_json::json!({"type": "doc", "version": 1, "content": []})),
            priority_id: None,
            component_ids: Vec::new(),
            assignee: None,
            reporter: Some("acc".into()),
            creator: "acc".into(),
            reporter_name: None,
            assignee_name: None,
            labels: Vec::new(),
            duedate: None,
            parent_id: None,
            parent_key: None,
            custom_fields: BTreeMap::new(),
            properties: BTreeMap::new(),
            created: SystemTime::now(),
            request: Bytes::from_static(br#"{"fields": {}}"#),
        }
    }

    #[test]
    fn only_the_latest_bodies_are_kept_and_everything_else_stays() {
        let mut store = IssueStore {
            retain_bodies: Some(2),
            ..IssueStore::default()
        };
        let keys: Vec<String> = (1..=4)
            .map(|n| store.insert(issue(&format!("issue {n}"))).1)
            .collect();
        assert_eq!(keys, ["DEMO-1", "DEMO-2", "DEMO-3", "DEMO-4"]);
        let bodies: Vec<bool> = store
            .issues
            .iter()
            .map(|i| i.description.is_some() && !i.request.is_empty())
            .collect();
        assert_eq!(bodies, [false, false, true, true]);
        let old = store.find("DEMO-1").expect("still found");
        assert_eq!(
            (old.summary.as_str(), old.reporter.as_deref()),
            ("issue 1", Some("acc"))
        );
    }
}
