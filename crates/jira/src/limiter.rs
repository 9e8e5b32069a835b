//! A client-side token bucket, so that bursts of Glean calls are smoothed
//! before they reach Jira's own limits (which answer 429 and cost a retry).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Allows `rate` calls a second on average and bursts of up to `rate`
/// calls. Callers reserve a slot and wait for it, so waiting is fair (first
/// come, first served) and nobody is refused unless their budget is shorter
/// than the wait.
#[derive(Debug)]
pub(crate) struct Limiter {
    rate: f64,
    burst: f64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// May go negative: reservations already handed out.
    tokens: f64,
    updated: Instant,
}

impl Limiter {
    /// `None` for a rate of zero (no limit).
    pub(crate) fn new(per_second: f64) -> Option<Limiter> {
        if !per_second.is_finite() || per_second <= 0.0 {
            return None;
        }
        let burst = per_second.max(1.0);
        Some(Limiter {
            rate: per_second,
            burst,
            state: Mutex::new(Bucket {
                tokens: burst,
                updated: Instant::now(),
            }),
        })
    }

    /// Reserves one call; returns how long to wait before making it, or
    /// `Err(wait)` (reserving nothing) when the wait would exceed `limit`.
    pub(crate) fn reserve(&self, limit: Duration) -> Result<Duration, Duration> {
        let mut bucket = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.updated = now;
        let after = bucket.tokens - 1.0;
        let wait = if after >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-after / self.rate)
        };
        if wait > limit {
            return Err(wait);
        }
        bucket.tokens = after;
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_pass_then_calls_are_spaced() {
        let limiter = Limiter::new(10.0).expect("limited");
        for _ in 0..10 {
            assert_eq!(limiter.reserve(Duration::ZERO), Ok(Duration::ZERO));
        }
        let wait = limiter.reserve(Duration::from_secs(1)).expect("fits");
        assert!(wait > Duration::from_millis(50) && wait <= Duration::from_millis(100));
        let wait = limiter.reserve(Duration::from_secs(1)).expect("fits");
        assert!(wait > Duration::from_millis(150) && wait <= Duration::from_millis(200));
        // Past the caller's limit: refused, and nothing reserved.
        assert!(limiter.reserve(Duration::from_millis(10)).is_err());
        let wait = limiter.reserve(Duration::from_secs(1)).expect("fits");
        assert!(wait <= Duration::from_millis(300));
    }

    #[test]
    fn zero_means_off() {
        assert!(Limiter::new(0.0).is_none());
    }
}
