//! Names → Jira ids, with in-memory caches so that a warm request costs
//! exactly one Jira call: the create.
//!
//! Concurrent misses for the same key are coalesced (moka's `try_get_with`),
//! so a burst of requests from one new caller makes one lookup.
//!
//! What Jira answers depends on whose credentials ask: a project one
//! person cannot browse is a 404 for them only, a user search by someone
//! without Browse users is empty. So every entry is kept under a
//! [`CacheScope`]: with the server's own credentials (api-token, oauth)
//! one shared scope; with forwarded credentials (passthrough) a hash of
//! the `Authorization` value, so that what one credential learnt (projects,
//! create screens, users, "not found", the project list) is reused only
//! for that credential.

pub mod fields;
pub mod users;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jira::{FieldMeta, JiraClient, Project, ProjectSummary};
use moka::Expiry;
use moka::future::Cache;
use sha2::{Digest, Sha256};

use crate::config::{AccessConfig, CacheConfig};
use crate::glean::contract::{IdOrName, ProjectRef};
use crate::tools::Error;
pub use users::UserMatch;

/// Whose answers a cache entry holds: [`CacheScope::SHARED`] for the
/// server's own credentials, else the SHA-256 of the forwarded
/// `Authorization` value (the credential itself is never kept). `Debug`
/// shows a short prefix only.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheScope([u8; 32]);

impl CacheScope {
    /// The server-held credentials: one scope for every call.
    pub const SHARED: CacheScope = CacheScope([0; 32]);

    /// The scope of a forwarded `Authorization` value.
    pub fn of_credential(authorization: &str) -> CacheScope {
        let mut hasher = Sha256::new();
        hasher.update(b"jira-action/credential/1\n");
        hasher.update(authorization.as_bytes());
        CacheScope(hasher.finalize().into())
    }

    pub fn is_shared(&self) -> bool {
        *self == CacheScope::SHARED
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for CacheScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.is_shared() {
            true => f.write_str("CacheScope(shared)"),
            false => write!(
                f,
                "CacheScope({:02x}{:02x}{:02x}{:02x}…)",
                self.0[0], self.0[1], self.0[2], self.0[3]
            ),
        }
    }
}

/// A cached answer that may be negative; negatives expire sooner.
trait Negative {
    fn is_negative(&self) -> bool;
}

impl Negative for UserMatch {
    fn is_negative(&self) -> bool {
        !matches!(self, UserMatch::Found { .. })
    }
}

impl Negative for Option<Arc<Project>> {
    fn is_negative(&self) -> bool {
        self.is_none()
    }
}

struct TtlPolicy {
    positive: Duration,
    negative: Duration,
}

impl<K, V: Negative> Expiry<K, V> for TtlPolicy {
    fn expire_after_create(&self, _key: &K, value: &V, _created_at: Instant) -> Option<Duration> {
        Some(if value.is_negative() {
            self.negative
        } else {
            self.positive
        })
    }
}

/// Lookups and misses per cache, for `/metrics` (hits are the rest).
#[derive(Default)]
pub struct CacheStats {
    counts: [[AtomicU64; 2]; 3],
}

const USERS: usize = 0;
const PROJECTS: usize = 1;
const CREATE_META: usize = 2;

impl CacheStats {
    fn lookup(&self, cache: usize) {
        self.counts[cache][0].fetch_add(1, Ordering::Relaxed);
    }

    fn miss(&self, cache: usize) {
        self.counts[cache][1].fetch_add(1, Ordering::Relaxed);
    }

    /// (cache, lookups, misses) for each cache.
    pub fn snapshot(&self) -> [(&'static str, u64, u64); 3] {
        let get = |cache: usize| {
            (
                self.counts[cache][0].load(Ordering::Relaxed),
                self.counts[cache][1].load(Ordering::Relaxed),
            )
        };
        let (users, projects, meta) = (get(USERS), get(PROJECTS), get(CREATE_META));
        [
            ("user", users.0, users.1),
            ("project", projects.0, projects.1),
            ("create_meta", meta.0, meta.1),
        ]
    }
}

pub struct Resolver {
    pub stats: CacheStats,
    users: Cache<(CacheScope, String), UserMatch>,
    /// Keyed by `id:<id>` and `key:<KEY>`; a fetch fills both.
    projects: Cache<(CacheScope, String), Option<Arc<Project>>>,
    /// Create screens by (project id, issue type id).
    create_meta: Cache<(CacheScope, String, String), Arc<Vec<FieldMeta>>>,
    /// The projects to offer when a `pid` matches none (error path only).
    project_choices: Cache<CacheScope, Arc<Vec<ProjectSummary>>>,
    /// Only these are offered as choices (`access.projects`).
    access: AccessConfig,
}

impl Resolver {
    pub fn new(config: &CacheConfig, access: &AccessConfig) -> Resolver {
        let negative = config.negative_ttl;
        Resolver {
            stats: CacheStats::default(),
            users: Cache::builder()
                .max_capacity(config.max_users)
                .expire_after(TtlPolicy {
                    positive: config.user_ttl,
                    negative,
                })
                .build(),
            projects: Cache::builder()
                .max_capacity(config.max_projects)
                .expire_after(TtlPolicy {
                    positive: config.project_ttl,
                    negative,
                })
                .build(),
            create_meta: Cache::builder()
                .max_capacity(config.max_projects.saturating_mul(8))
                .time_to_live(config.project_ttl)
                .build(),
            // One list per credential scope.
            project_choices: Cache::builder()
                .max_capacity(config.max_projects)
                .time_to_live(negative)
                .build(),
            access: access.clone(),
        }
    }

    /// The account for an email (already validated and lowercased), as
    /// these credentials find it.
    pub async fn user(
        &self,
        jira: &JiraClient,
        scope: CacheScope,
        email: &str,
    ) -> Result<UserMatch, Error> {
        self.stats.lookup(USERS);
        self.users
            .try_get_with((scope, email.to_owned()), async {
                self.stats.miss(USERS);
                let found = jira.search_users(email, users::SEARCH_LIMIT).await?;
                Ok::<_, jira::Error>(users::pick(email, &found))
            })
            .await
            .map_err(unshare)
    }

    /// A signed-in person's account, if it is active on this site. Cached
    /// with the users (account ids never look like emails).
    pub async fn account(
        &self,
        jira: &JiraClient,
        scope: CacheScope,
        account_id: &str,
    ) -> Result<UserMatch, Error> {
        self.stats.lookup(USERS);
        self.users
            .try_get_with((scope, format!("accountId:{account_id}")), async {
                self.stats.miss(USERS);
                let found = jira.user_by_account_id(account_id).await?;
                Ok::<_, jira::Error>(match found {
                    Some(user) => UserMatch::Found {
                        account_id: user.account_id,
                        display_name: user.display_name,
                    },
                    None => UserMatch::NotFound,
                })
            })
            .await
            .map_err(unshare)
    }

    /// The project with its issue types and components, as these
    /// credentials see it.
    pub async fn project(
        &self,
        jira: &JiraClient,
        scope: CacheScope,
        given: &ProjectRef,
    ) -> Result<Arc<Project>, Error> {
        let (cache_key, id_or_key) = match given {
            ProjectRef::Id(id) => (format!("id:{id}"), id),
            ProjectRef::Key(key) => (format!("key:{key}"), key),
        };
        self.stats.lookup(PROJECTS);
        let found = self
            .projects
            .try_get_with((scope, cache_key), async {
                self.stats.miss(PROJECTS);
                match jira.project(id_or_key).await {
                    Ok(project) => Ok(Some(Arc::new(project))),
                    Err(jira::Error::Api { status: 404, .. }) => Ok(None),
                    Err(err) => Err(err),
                }
            })
            .await
            .map_err(unshare)?;
        match found {
            Some(project) => {
                // Warm the other spelling too: `DEMO` and `10000` are one project.
                let other = match given {
                    ProjectRef::Id(_) => format!("key:{}", project.key),
                    ProjectRef::Key(_) => format!("id:{}", project.id),
                };
                let other = (scope, other);
                if !self.projects.contains_key(&other) {
                    self.projects
                        .insert(other, Some(Arc::clone(&project)))
                        .await;
                }
                Ok(project)
            }
            None => Err(Error::ProjectNotFound {
                given: id_or_key.clone(),
                choices: self.project_choices(jira, scope).await,
            }),
        }
    }

    /// The create screen of a project and issue type, as Jira computes it
    /// for these credentials.
    pub async fn create_meta(
        &self,
        jira: &JiraClient,
        scope: CacheScope,
        project_id: &str,
        issue_type_id: &str,
    ) -> Result<Arc<Vec<FieldMeta>>, Error> {
        self.stats.lookup(CREATE_META);
        self.create_meta
            .try_get_with(
                (scope, project_id.to_owned(), issue_type_id.to_owned()),
                async {
                    self.stats.miss(CREATE_META);
                    Ok::<_, jira::Error>(Arc::new(
                        jira.create_meta_fields(project_id, issue_type_id).await?,
                    ))
                },
            )
            .await
            .map_err(unshare)
    }

    /// The projects these credentials see that `access.projects` allows.
    /// Best effort: an error while listing choices must not hide the
    /// original "no such project".
    async fn project_choices(&self, jira: &JiraClient, scope: CacheScope) -> Vec<String> {
        let listed = self
            .project_choices
            .try_get_with(scope, async {
                Ok::<_, jira::Error>(Arc::new(jira.search_projects(50).await?))
            })
            .await;
        match listed {
            Ok(projects) => projects
                .iter()
                .filter(|p| self.access.project_allowed(&p.id, &p.key))
                .map(|p| format!("{} ({}, id {})", p.key, p.name, p.id))
                .collect(),
            Err(err) => {
                tracing::warn!(cause = %err, "could not list projects");
                Vec::new()
            }
        }
    }
}

/// The issue type id for an id or a name (names match case-insensitively).
pub fn issue_type_id(project: &Project, given: &IdOrName) -> Result<String, Error> {
    let found = project.issue_types.iter().find(|t| match given {
        IdOrName::Id(id) => &t.id == id,
        IdOrName::Name(name) => t.name.eq_ignore_ascii_case(name),
    });
    found
        .map(|t| t.id.clone())
        .ok_or_else(|| Error::IssueTypeNotFound {
            given: display(given).to_owned(),
            project: project.key.clone(),
            choices: project
                .issue_types
                .iter()
                .map(|t| format!("{} (id {})", t.name, t.id))
                .collect(),
        })
}

/// The component ids for ids or names.
pub fn component_ids(project: &Project, given: &[IdOrName]) -> Result<Vec<String>, Error> {
    given
        .iter()
        .map(|wanted| {
            project
                .components
                .iter()
                .find(|c| match wanted {
                    IdOrName::Id(id) => &c.id == id,
                    IdOrName::Name(name) => c.name.eq_ignore_ascii_case(name.trim()),
                })
                .map(|c| c.id.clone())
                .ok_or_else(|| Error::ComponentNotFound {
                    given: display(wanted).to_owned(),
                    project: project.key.clone(),
                    choices: project
                        .components
                        .iter()
                        .map(|c| format!("{} (id {})", c.name, c.id))
                        .collect(),
                })
        })
        .collect()
}

fn display(given: &IdOrName) -> &str {
    match given {
        IdOrName::Id(s) | IdOrName::Name(s) => s,
    }
}

/// moka shares a loader's error among the requests that waited for it.
fn unshare(err: Arc<jira::Error>) -> Error {
    Error::Jira(Arc::unwrap_or_clone(err))
}
