//! Readiness: is Jira reachable with a valid token, and is the store
//! writable. Jira is asked at most once per [`JIRA_CHECK_INTERVAL`], so
//! a load balancer probing every second costs Jira nothing noticeable.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jira::JiraClient;

use crate::config::AuthMode;

pub const JIRA_CHECK_INTERVAL: Duration = Duration::from_secs(30);

/// A readiness check of the store (e.g. a write in a scratch table);
/// `Err` says why it is not writable.
pub type StoreCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// One check's outcome, as `/readyz` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    /// `None`: passed.
    pub problem: Option<String>,
}

pub struct Readiness {
    interval: Duration,
    /// The latest Jira check and when it ran; the lock also makes
    /// concurrent probes wait for one check instead of each making one.
    jira: tokio::sync::Mutex<Option<(Instant, Option<String>)>>,
    store: RwLock<Option<StoreCheck>>,
}

impl Default for Readiness {
    fn default() -> Self {
        Readiness {
            interval: JIRA_CHECK_INTERVAL,
            jira: tokio::sync::Mutex::new(None),
            store: RwLock::new(None),
        }
    }
}

impl Readiness {
    /// Makes `/readyz` also require the store to be writable.
    pub fn set_store_check(&self, check: StoreCheck) {
        if let Ok(mut store) = self.store.write() {
            *store = Some(check);
        }
    }

    /// Every check, Jira's from the cache when it is fresh enough.
    pub async fn checks(&self, jira: &JiraClient, auth: AuthMode) -> Vec<Check> {
        let mut checks = vec![Check {
            name: "jira",
            problem: self.jira_problem(jira, auth).await,
        }];
        let store = self.store.read().ok().and_then(|s| s.clone());
        if let Some(store) = store {
            checks.push(Check {
                name: "store",
                problem: store().await.err(),
            });
        }
        checks
    }

    async fn jira_problem(&self, jira: &JiraClient, auth: AuthMode) -> Option<String> {
        let mut cached = self.jira.lock().await;
        if let Some((at, problem)) = cached.as_ref()
            && at.elapsed() < self.interval
        {
            return problem.clone();
        }
        let problem = jira_check(jira, auth).await;
        if let Some(problem) = &problem {
            tracing::warn!(%problem, "not ready");
        }
        *cached = Some((Instant::now(), problem.clone()));
        problem
    }
}

/// With the server's own token: `myself` must succeed. In passthrough
/// mode the server has no token, so any HTTP answer (a 401 included)
/// proves Jira is reachable.
async fn jira_check(jira: &JiraClient, auth: AuthMode) -> Option<String> {
    // No retries: a probe must answer quickly, and the next one retries.
    let result = jira::with_retry_budget(Duration::ZERO, jira.myself()).await;
    match (result, auth) {
        (Ok(_), _) => None,
        // Rate limited (by Jira or by our own limiter under load): Jira is
        // there, and taking the server out of rotation would not help.
        (Err(jira::Error::RateLimited { .. } | jira::Error::Api { status: 429, .. }), _) => None,
        (Err(jira::Error::Api { .. }), AuthMode::Passthrough) => None,
        (Err(err), _) => Some(err.to_string()),
    }
}
