use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::OnceCell;
use url::Url;

use crate::auth::Auth;
use crate::error::{Error, ErrorBody};
use crate::flavor::Flavor;
use crate::limiter::Limiter;
use crate::model::*;
use crate::observe::{CallRecord, Observer, RateLimitInfo};
use crate::retry::{RetryPolicy, budget_left};

/// Where the REST API lives.
#[derive(Clone, Debug)]
pub enum ApiBase {
    /// A site, `https://<site>.atlassian.net` (API tokens, or the simulator).
    Site(Url),
    /// The OAuth gateway with a known cloud id:
    /// `https://api.atlassian.com/ex/jira/<cloudId>`.
    Gateway { api_url: Url, cloud_id: String },
    /// The OAuth gateway; the cloud id of `site_url` is looked up once in
    /// `{api_url}/oauth/token/accessible-resources` and cached.
    GatewayDiscover { api_url: Url },
}

#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub base: ApiBase,
    /// Cloud or Data Center: the API version and the forms that differ.
    pub flavor: Flavor,
    /// The site for browse links (`<site>/browse/KEY`). Required with the
    /// gateway forms; defaults to the site URL otherwise.
    pub site_url: Option<Url>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// Client-side limit on calls per second to this site (all
    /// credentials together); 0 turns it off. Calls wait for a slot, and
    /// the wait counts against the retry budget.
    pub max_requests_per_second: f64,
    /// Told about every call, retry and limiter wait (metrics).
    pub observer: Option<Observer>,
}

impl ClientConfig {
    pub fn new(base: ApiBase) -> Self {
        ClientConfig {
            base,
            flavor: Flavor::Cloud,
            site_url: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            max_requests_per_second: 0.0,
            observer: None,
        }
    }
}

struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    /// The API root, e.g. `https://x.atlassian.net/rest/api/3/`, known once
    /// the cloud id is (discovery needs a token, so it happens lazily).
    api_root: OnceCell<Url>,
    site_url: Option<Url>,
    limiter: Option<Limiter>,
    /// The rate-limit headers of the latest answer that had any.
    last_rate_limit: std::sync::Mutex<Option<RateLimitInfo>>,
}

/// A Jira client. Cloning is cheap and shares the connection pool; use
/// [`JiraClient::with_auth`] for a per-request credential.
#[derive(Clone)]
pub struct JiraClient {
    inner: Arc<Inner>,
    auth: Auth,
}

impl std::fmt::Debug for JiraClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraClient")
            .field("base", &self.inner.config.base)
            .finish_non_exhaustive()
    }
}

/// What the Jira calls made by one task cost: how many HTTP calls were
/// sent (retries included), how long they took, and how long the task slept
/// before them (the client-side rate limit, retry back-off). A server reads
/// it to record each request's Jira cost and the time it added itself,
/// without threading a counter through every cache and lookup.
#[derive(Debug, Default)]
pub struct CallTally {
    calls: AtomicU32,
    calling_micros: AtomicU64,
    pausing_micros: AtomicU64,
}

impl CallTally {
    /// HTTP calls sent to Jira.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Time spent in calls to Jira, from sending to the whole answer read.
    pub fn calling(&self) -> Duration {
        Duration::from_micros(self.calling_micros.load(Ordering::Relaxed))
    }

    /// Time spent waiting before calls: rate limit and retry back-off.
    pub fn pausing(&self) -> Duration {
        Duration::from_micros(self.pausing_micros.load(Ordering::Relaxed))
    }

    fn add(counter: &AtomicU64, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        counter.fetch_add(micros, Ordering::Relaxed);
    }
}

tokio::task_local! {
    /// The tally of the task running in its scope (see [`CallTally`]).
    pub static CALL_TALLY: Arc<CallTally>;
}

fn tally(record: impl FnOnce(&CallTally)) {
    let _ = CALL_TALLY.try_with(|tally| record(tally));
}

/// Which API a call is for (used in logs and call accounting).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    UserSearch,
    Project,
    ProjectSearch,
    Priorities,
    CreateIssue,
    Myself,
    AccessibleResources,
    CreateMetaFields,
    SearchJql,
    /// Data Center's `GET /search` (offset paging).
    Search,
    IssueProperty,
    ServerInfo,
    MyPermissions,
}

impl Call {
    /// A stable lowercase name, for metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Call::UserSearch => "user_search",
            Call::Project => "project",
            Call::ProjectSearch => "project_search",
            Call::Priorities => "priorities",
            Call::CreateIssue => "create_issue",
            Call::Myself => "myself",
            Call::AccessibleResources => "accessible_resources",
            Call::CreateMetaFields => "createmeta_fields",
            Call::SearchJql => "search_jql",
            Call::Search => "search",
            Call::IssueProperty => "issue_property",
            Call::ServerInfo => "server_info",
            Call::MyPermissions => "mypermissions",
        }
    }
}

impl JiraClient {
    pub fn new(config: ClientConfig, auth: Auth) -> Result<JiraClient, Error> {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            // Nothing Jira answers is followed as a URL (no SSRF through
            // redirects).
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("jira-action/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::from_reqwest)?;
        let api_root = OnceCell::new();
        let version = config.flavor.api_version();
        let site_url = match &config.base {
            ApiBase::Site(url) => {
                let _ = api_root.set(rest_root(url, version)?);
                Some(config.site_url.clone().unwrap_or_else(|| url.clone()))
            }
            ApiBase::Gateway { api_url, cloud_id } => {
                let _ = api_root.set(rest_root(&gateway_url(api_url, cloud_id)?, version)?);
                config.site_url.clone()
            }
            ApiBase::GatewayDiscover { .. } => config.site_url.clone(),
        };
        if site_url.is_none() {
            return Err(Error::Url(
                "the OAuth gateway needs the site URL for browse links".into(),
            ));
        }
        Ok(JiraClient {
            inner: Arc::new(Inner {
                http,
                limiter: Limiter::new(config.max_requests_per_second),
                config,
                api_root,
                site_url,
                last_rate_limit: std::sync::Mutex::new(None),
            }),
            auth,
        })
    }

    /// The same client (and connection pool) with other credentials.
    pub fn with_auth(&self, auth: Auth) -> JiraClient {
        JiraClient {
            inner: Arc::clone(&self.inner),
            auth,
        }
    }

    /// The link a person opens to see an issue: always on the site, never
    /// on the OAuth gateway.
    pub fn browse_url(&self, key: &str) -> String {
        let site = self
            .inner
            .site_url
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/'))
            .unwrap_or_default();
        format!("{site}/browse/{key}")
    }

    /// Which Jira this client talks to.
    pub fn flavor(&self) -> Flavor {
        self.inner.config.flavor
    }

    /// How a user field names the user `id` (an account id on Cloud, a
    /// username on Data Center).
    pub fn user_ref(&self, id: impl Into<String>) -> UserRef {
        match self.flavor() {
            Flavor::Cloud => UserRef::AccountId(id.into()),
            Flavor::DataCenter => UserRef::Username(id.into()),
        }
    }

    /// `GET /user/search`: users whose name or email starts with `query`
    /// (never the whole directory). Cloud takes `query=`; Data Center
    /// takes `username=`, which there matches username, name or email.
    pub async fn search_users(&self, query: &str, max_results: u32) -> Result<Vec<User>, Error> {
        let max = max_results.to_string();
        let key = match self.flavor() {
            Flavor::Cloud => "query",
            Flavor::DataCenter => "username",
        };
        self.get(
            Call::UserSearch,
            &["user", "search"],
            &[(key, query), ("maxResults", &max)],
        )
        .await
    }

    /// `GET /user/search?accountId=` (Cloud): the account, if it exists and
    /// is active (the search finds active users only).
    pub async fn user_by_account_id(&self, account_id: &str) -> Result<Option<User>, Error> {
        let found: Vec<User> = self
            .get(
                Call::UserSearch,
                &["user", "search"],
                &[("accountId", account_id), ("maxResults", "1")],
            )
            .await?;
        Ok(found
            .into_iter()
            .find(|user| user.account_id == account_id && user.active))
    }

    /// `GET /rest/api/2/serverInfo`: the deployment type and version. Asked
    /// on v2, which both Cloud and Data Center serve, before the flavour is
    /// known; only for a site URL (the OAuth gateway is always Cloud).
    pub async fn server_info(&self) -> Result<ServerInfo, Error> {
        let ApiBase::Site(site) = &self.inner.config.base else {
            return Err(Error::Url("serverInfo is read from a site URL".into()));
        };
        let mut url = rest_root(site, "2")?;
        url.path_segments_mut()
            .map_err(|()| Error::Url("not a base URL".into()))?
            .push("serverInfo");
        let bytes = self
            .execute(Call::ServerInfo, Method::GET, url, None, false)
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))
    }

    /// `GET /issue/{key}/properties/{property}`: the property's value, or
    /// `None` when the issue has no such property.
    pub async fn issue_property(&self, key: &str, property: &str) -> Result<Option<Value>, Error> {
        #[derive(serde::Deserialize)]
        struct Property {
            #[serde(default)]
            value: Value,
        }
        match self
            .get::<Property>(
                Call::IssueProperty,
                &["issue", key, "properties", property],
                &[],
            )
            .await
        {
            Ok(found) => Ok(Some(found.value)),
            Err(Error::Api { status: 404, .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// `GET /project/{idOrKey}`, with its issue types and components.
    pub async fn project(&self, id_or_key: &str) -> Result<Project, Error> {
        self.get(Call::Project, &["project", id_or_key], &[]).await
    }

    /// `GET /project/search` (Cloud) or `GET /project` (Data Center, which
    /// has no paged search): the first projects the caller can see (to
    /// tell a person which projects exist).
    pub async fn search_projects(&self, max_results: u32) -> Result<Vec<ProjectSummary>, Error> {
        if self.flavor() == Flavor::DataCenter {
            let mut all: Vec<ProjectSummary> =
                self.get(Call::ProjectSearch, &["project"], &[]).await?;
            all.truncate(usize::try_from(max_results).unwrap_or(usize::MAX));
            return Ok(all);
        }
        let max = max_results.to_string();
        let page: ProjectPage = self
            .get(
                Call::ProjectSearch,
                &["project", "search"],
                &[("maxResults", &max)],
            )
            .await?;
        Ok(page.values)
    }

    /// `GET /priority`.
    pub async fn priorities(&self) -> Result<Vec<Priority>, Error> {
        self.get(Call::Priorities, &["priority"], &[]).await
    }

    /// `GET /issue/createmeta/{project}/issuetypes/{id}`, every page: the
    /// fields of the create screen, which are required, their allowed
    /// values. As Jira computes it for these credentials (a field the
    /// caller may not set, such as reporter without Modify Reporter, is
    /// not listed).
    pub async fn create_meta_fields(
        &self,
        project_id_or_key: &str,
        issue_type_id: &str,
    ) -> Result<Vec<FieldMeta>, Error> {
        const PAGE: usize = 50;
        let mut fields: Vec<FieldMeta> = Vec::new();
        // Bounded: a create screen has tens of fields, not thousands.
        for _ in 0..40 {
            let start = fields.len().to_string();
            let max = PAGE.to_string();
            let page: FieldMetaPage = self
                .get(
                    Call::CreateMetaFields,
                    &[
                        "issue",
                        "createmeta",
                        project_id_or_key,
                        "issuetypes",
                        issue_type_id,
                    ],
                    &[("startAt", &start), ("maxResults", &max)],
                )
                .await?;
            let batch = [page.fields, page.results, page.values]
                .into_iter()
                .find(|batch| !batch.is_empty())
                .unwrap_or_default();
            let got = batch.len();
            fields.extend(batch);
            let done = match (page.is_last, page.total) {
                (Some(last), _) => last,
                (None, Some(total)) => fields.len() as u64 >= total,
                (None, None) => got < PAGE,
            };
            if done || got == 0 {
                break;
            }
        }
        Ok(fields)
    }

    /// `GET /search/jql`: issues matching `jql`, with the issue properties
    /// named in `properties`, up to `limit` issues (pages followed).
    pub async fn search_issues(
        &self,
        jql: &str,
        properties: &[&str],
        limit: usize,
    ) -> Result<Vec<FoundIssue>, Error> {
        let mut found: Vec<FoundIssue> = Vec::new();
        let mut token: Option<String> = None;
        let properties = properties.join(",");
        while found.len() < limit {
            let max = (limit - found.len()).min(100).to_string();
            let mut query = vec![
                ("jql", jql),
                ("fields", "created"),
                ("properties", properties.as_str()),
                ("maxResults", max.as_str()),
            ];
            if let Some(token) = &token {
                query.push(("nextPageToken", token.as_str()));
            }
            let page: SearchPage = self
                .get(Call::SearchJql, &["search", "jql"], &query)
                .await?;
            let empty = page.issues.is_empty();
            found.extend(page.issues);
            match page.next_page_token {
                Some(next) if !empty => token = Some(next),
                _ => break,
            }
        }
        found.truncate(limit);
        Ok(found)
    }

    /// The first issue matching `jql` (in its order) whose issue property
    /// `property` satisfies `matches`, reading at most `limit` + 1 issues.
    ///
    /// Cloud's search returns the properties with the issues. Data
    /// Center's does not (and searches properties only when an app indexes
    /// them), so there each candidate's property is read on its own: first
    /// those whose summary is `summary` (trimmed), the likely ones, then
    /// the rest, stopping at the first match.
    pub async fn find_by_property(
        &self,
        jql: &str,
        property: &str,
        limit: usize,
        summary: &str,
        matches: impl Fn(&Value) -> bool,
    ) -> Result<PropertySearch, Error> {
        let wanted = limit.saturating_add(1);
        if self.flavor() == Flavor::Cloud {
            let issues = self.search_issues(jql, &[property], wanted).await?;
            let read = issues.len();
            return Ok(issues
                .into_iter()
                .find(|issue| issue.properties.get(property).is_some_and(&matches))
                .map_or(PropertySearch::NotAmong(read), PropertySearch::Found));
        }
        let mut candidates: Vec<OffsetSearchIssue> = Vec::new();
        while candidates.len() < wanted {
            let start = candidates.len().to_string();
            let max = (wanted - candidates.len()).min(100).to_string();
            let page: OffsetSearchPage = self
                .get(
                    Call::Search,
                    &["search"],
                    &[
                        ("jql", jql),
                        ("fields", "summary"),
                        ("startAt", &start),
                        ("maxResults", &max),
                    ],
                )
                .await?;
            let empty = page.issues.is_empty();
            candidates.extend(page.issues);
            if empty
                || page
                    .total
                    .is_some_and(|total| candidates.len() as u64 >= total)
            {
                break;
            }
        }
        candidates.truncate(wanted);
        let read = candidates.len();
        let (likely, others): (Vec<_>, Vec<_>) = candidates
            .into_iter()
            .partition(|issue| issue.fields.summary.trim() == summary.trim());
        for issue in likely.into_iter().chain(others) {
            if let Some(value) = self.issue_property(&issue.key, property).await?
                && matches(&value)
            {
                let mut properties = serde_json::Map::new();
                properties.insert(property.to_owned(), value);
                return Ok(PropertySearch::Found(FoundIssue {
                    id: issue.id,
                    key: issue.key,
                    properties,
                }));
            }
        }
        Ok(PropertySearch::NotAmong(read))
    }

    /// The rate-limit headers of the latest Jira answer that carried any
    /// (for health checks and `doctor`).
    pub fn last_rate_limit(&self) -> Option<RateLimitInfo> {
        self.inner
            .last_rate_limit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// `GET /mypermissions`: which of `permissions` the credentials hold,
    /// in `project` (a key or id) or globally.
    pub async fn my_permissions(
        &self,
        project: Option<&str>,
        permissions: &[&str],
    ) -> Result<MyPermissions, Error> {
        let keys = permissions.join(",");
        let mut query = vec![("permissions", keys.as_str())];
        if let Some(project) = project {
            query.push(("projectKey", project));
        }
        self.get(Call::MyPermissions, &["mypermissions"], &query)
            .await
    }

    /// `GET /myself`: who the credentials belong to.
    pub async fn myself(&self) -> Result<Myself, Error> {
        self.get(Call::Myself, &["myself"], &[]).await
    }

    /// `POST /issue`. Retried only when Jira provably did not create it
    /// (429, 503 with `Retry-After`, connection refused); any other failure
    /// leaves the outcome unknown and is returned as is.
    pub async fn create_issue(&self, issue: &NewIssue) -> Result<CreatedIssue, Error> {
        let url = self.url(&["issue"], &[]).await?;
        let body = serde_json::to_vec(issue).map_err(|e| Error::Decode(e.to_string()))?;
        let bytes = self
            .execute(Call::CreateIssue, Method::POST, url, Some(body), true)
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))
    }

    /// The sites an OAuth token may reach.
    pub async fn accessible_resources(&self) -> Result<Vec<AccessibleResource>, Error> {
        let api_url = match &self.inner.config.base {
            ApiBase::Gateway { api_url, .. } | ApiBase::GatewayDiscover { api_url } => api_url,
            ApiBase::Site(url) => url,
        };
        let mut url = api_url.clone();
        url.path_segments_mut()
            .map_err(|()| Error::Url("not a base URL".into()))?
            .pop_if_empty()
            .extend(["oauth", "token", "accessible-resources"]);
        let bytes = self
            .execute(Call::AccessibleResources, Method::GET, url, None, false)
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))
    }

    async fn get<T: DeserializeOwned>(
        &self,
        call: Call,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T, Error> {
        let url = self.url(segments, query).await?;
        let bytes = self.execute(call, Method::GET, url, None, false).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))
    }

    /// Builds `{api root}/{segments...}?{query}`. Segments are
    /// percent-encoded one by one, so a value such as `../myself` stays
    /// one path segment and cannot reach another endpoint.
    async fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, Error> {
        let mut url = self.api_root().await?.clone();
        url.path_segments_mut()
            .map_err(|()| Error::Url("not a base URL".into()))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    async fn api_root(&self) -> Result<&Url, Error> {
        self.inner
            .api_root
            .get_or_try_init(|| async {
                let ApiBase::GatewayDiscover { api_url } = &self.inner.config.base else {
                    return Err(Error::Url("API root not set".into()));
                };
                let site = self.inner.site_url.as_ref().map(|u| u.as_str());
                let site = site.unwrap_or_default().trim_end_matches('/');
                let resources = self.accessible_resources().await?;
                let found = resources
                    .iter()
                    .find(|r| r.url.trim_end_matches('/').eq_ignore_ascii_case(site))
                    .ok_or_else(|| Error::SiteNotAccessible(site.to_owned()))?;
                tracing::info!(cloud_id = %found.id, site, "discovered Jira cloud id");
                rest_root(
                    &gateway_url(api_url, &found.id)?,
                    self.inner.config.flavor.api_version(),
                )
            })
            .await
    }

    /// Sends one call with the retry policy. `write` calls are retried only
    /// where Jira provably did not apply them.
    async fn execute(
        &self,
        call: Call,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        write: bool,
    ) -> Result<bytes::Bytes, Error> {
        let policy = &self.inner.config.retry;
        let observer = self.inner.config.observer.as_ref().map(|o| &o.0);
        let mut waited = Duration::ZERO;
        let mut attempt = 1;
        loop {
            if let Some(limiter) = &self.inner.limiter {
                let left = budget_left()
                    .unwrap_or(policy.budget)
                    .min(policy.budget.saturating_sub(waited));
                // Wait for a slot while it comes within the budget; refused
                // (nothing taken) as soon as the next slot lies past it.
                let mut throttled = Duration::ZERO;
                while let Err(wait) = limiter.check() {
                    if throttled + wait > left {
                        if let Some(observer) = observer {
                            observer.on_budget_exhausted(call);
                        }
                        return Err(Error::RateLimited { retry_after: wait });
                    }
                    tokio::time::sleep(wait).await;
                    throttled += wait;
                }
                if !throttled.is_zero() {
                    if let Some(observer) = observer {
                        observer.on_throttle(call, throttled);
                    }
                    tally(|t| CallTally::add(&t.pausing_micros, throttled));
                    waited += throttled;
                }
            }
            let started = Instant::now();
            let (result, rate_limit) = self
                .send_once(method.clone(), url.clone(), body.clone())
                .await;
            let elapsed = started.elapsed();
            tally(|t| CallTally::add(&t.calling_micros, elapsed));
            if !rate_limit.is_empty() {
                tracing::debug!(?call, ?rate_limit, "jira rate-limit headers");
                if let Ok(mut last) = self.inner.last_rate_limit.lock() {
                    *last = Some(rate_limit.clone());
                }
            }
            if let Some(observer) = observer {
                observer.on_call(&CallRecord {
                    call,
                    attempt,
                    status: match &result {
                        Ok((status, _)) => Some(*status),
                        Err(err) => err.status(),
                    },
                    elapsed,
                    rate_limit,
                });
            }
            match &result {
                Ok(_) => tracing::debug!(?call, attempt, ?elapsed, "jira call ok"),
                Err(err) => {
                    tracing::debug!(?call, attempt, ?elapsed, status = ?err.status(), "jira call failed")
                }
            }
            let err = match result {
                Ok((_, bytes)) => return Ok(bytes),
                Err(err) => err,
            };
            let retry_after = match &err {
                Error::Api { retry_after, .. } => *retry_after,
                _ => None,
            };
            let retryable = if write {
                err.provably_not_applied()
            } else {
                matches!(
                    &err,
                    Error::Api {
                        status: 429 | 502 | 503 | 504,
                        ..
                    } | Error::Connect(_)
                        | Error::Transport(_)
                )
            };
            if !retryable || attempt >= policy.max_attempts {
                return Err(rate_limited_or(err));
            }
            let wait = policy.backoff(attempt, retry_after);
            let request_left = budget_left().unwrap_or(Duration::MAX);
            if waited + wait > policy.budget || wait > request_left {
                if let Some(observer) = observer {
                    observer.on_budget_exhausted(call);
                }
                return Err(rate_limited_or(err));
            }
            if let Some(observer) = observer {
                observer.on_retry(call, err.status(), wait);
            }
            tokio::time::sleep(wait).await;
            tally(|t| CallTally::add(&t.pausing_micros, wait));
            waited += wait;
            attempt += 1;
        }
    }

    async fn send_once(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> (Result<(u16, bytes::Bytes), Error>, RateLimitInfo) {
        tally(|t| {
            t.calls.fetch_add(1, Ordering::Relaxed);
        });
        let mut request = self
            .inner
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/json");
        match self.auth.header() {
            Some(Ok(value)) => request = request.header(reqwest::header::AUTHORIZATION, value),
            // Not a valid header value: reqwest refuses it when sending, as
            // it did before the value was marked sensitive.
            Some(Err(_)) => {
                if let Some(value) = self.auth.header_value() {
                    request = request.header(reqwest::header::AUTHORIZATION, value);
                }
            }
            None => {}
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => return (Err(Error::from_reqwest(err)), RateLimitInfo::default()),
        };
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let rate_limit = RateLimitInfo::from_headers(response.headers());
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(err) => return (Err(Error::from_reqwest(err)), rate_limit),
        };
        if status.is_success() {
            return (Ok((status.as_u16(), bytes)), rate_limit);
        }
        let error = Error::Api {
            status: status.as_u16(),
            body: ErrorBody::parse(&bytes),
            retry_after: if status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::SERVICE_UNAVAILABLE
            {
                retry_after
            } else {
                None
            },
        };
        (Err(error), rate_limit)
    }
}

/// A 429 that outlived the retries is reported as rate limiting, with the
/// wait Jira asked for; everything else as it was.
fn rate_limited_or(err: Error) -> Error {
    match err {
        Error::Api {
            status: 429,
            retry_after,
            ..
        } => Error::RateLimited {
            retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
        },
        other => other,
    }
}

/// `Retry-After` in seconds (Jira sends seconds; an HTTP date is ignored).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn gateway_url(api_url: &Url, cloud_id: &str) -> Result<Url, Error> {
    let mut url = api_url.clone();
    url.path_segments_mut()
        .map_err(|()| Error::Url("not a base URL".into()))?
        .pop_if_empty()
        .extend(["ex", "jira", cloud_id]);
    Ok(url)
}

fn rest_root(base: &Url, version: &str) -> Result<Url, Error> {
    if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
        return Err(Error::Url(format!("{base} is not an http(s) URL")));
    }
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .map_err(|()| Error::Url("not a base URL".into()))?
        .pop_if_empty()
        .extend(["rest", "api", version]);
    Ok(url)
}
