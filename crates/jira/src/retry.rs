use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

/// When and how long to wait before trying a Jira call again.
///
/// Waits honour `Retry-After`; otherwise they grow exponentially with full
/// jitter, and the sum of all waits never exceeds `budget`, so a request
/// always answers inside the caller's (Glean's) own timeout.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The most time spent waiting between attempts, in all.
    pub budget: Duration,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            budget: Duration::from_secs(20),
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// No retries at all (e.g. for health probes).
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait before attempt `attempt + 1` (attempt counts from 1).
    pub(crate) fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            // A little jitter on top of Jira's wait (never less than it
            // asked), so requests told the same second do not all come
            // back in the same instant and trip the limit again.
            let spread = (wait / 10).clamp(Duration::from_millis(50), Duration::from_secs(1));
            let nanos = u64::try_from(spread.as_nanos()).unwrap_or(u64::MAX);
            return wait + Duration::from_nanos(random_u64() % nanos.max(1));
        }
        let exp = self
            .base_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_backoff);
        // Full jitter: spread retries of many requests over the window.
        let nanos = u64::try_from(exp.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(random_u64() % nanos.max(1))
    }
}

tokio::task_local! {
    /// When the current request must stop waiting on Jira (see
    /// [`with_retry_budget`]).
    static DEADLINE: Instant;
}

/// Runs `future` with a retry budget shared by every Jira call it makes:
/// retry and limiter waits that would end past `start + budget` are not
/// made and the last error is returned instead. Without it each call has
/// the policy's budget of its own.
pub async fn with_retry_budget<F: std::future::Future>(budget: Duration, future: F) -> F::Output {
    let deadline = Instant::now() + budget;
    DEADLINE.scope(deadline, future).await
}

/// Time left in the current request's budget, if it has one.
pub(crate) fn budget_left() -> Option<Duration> {
    DEADLINE
        .try_with(|deadline| deadline.saturating_duration_since(Instant::now()))
        .ok()
}

/// A random number without a dependency: std's hasher keys are random.
fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_wins_over_backoff_with_a_little_jitter() {
        let policy = RetryPolicy::default();
        let waits: Vec<Duration> = (0..20)
            .map(|_| policy.backoff(1, Some(Duration::from_secs(3))))
            .collect();
        for wait in &waits {
            assert!(*wait >= Duration::from_secs(3) && *wait < Duration::from_millis(3_300));
        }
        assert!(waits.iter().any(|w| *w != waits[0]), "jittered: {waits:?}");
    }

    #[tokio::test]
    async fn the_request_budget_is_shared_and_shrinks() {
        assert_eq!(budget_left(), None);
        with_retry_budget(Duration::from_secs(5), async {
            let left = budget_left().expect("in scope");
            assert!(left <= Duration::from_secs(5) && left > Duration::from_secs(4));
        })
        .await;
    }

    #[test]
    fn backoff_is_bounded_by_max() {
        let policy = RetryPolicy::default();
        for attempt in 1..40 {
            assert!(policy.backoff(attempt, None) <= policy.max_backoff);
        }
    }
}
