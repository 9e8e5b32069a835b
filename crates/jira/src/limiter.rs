//! The client-side rate limit (governor's GCRA), so that bursts of Glean
//! calls are smoothed before they reach Jira's own limits (which answer 429
//! and cost a retry).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// Allows `rate` calls a second on average and bursts of up to `rate`
/// calls (at least one).
pub(crate) struct Limiter<C: Clock = DefaultClock> {
    limiter: RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<C::Instant>>,
}

impl<C: Clock> std::fmt::Debug for Limiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").finish_non_exhaustive()
    }
}

impl Limiter {
    /// `None` for a rate of zero (no limit).
    pub(crate) fn new(per_second: f64) -> Option<Limiter> {
        Limiter::with_clock(per_second, DefaultClock::default())
    }
}

impl<C: Clock> Limiter<C> {
    fn with_clock(per_second: f64, clock: C) -> Option<Limiter<C>> {
        if !per_second.is_finite() || per_second <= 0.0 {
            return None;
        }
        // Whole calls only; a fractional rate bursts one call.
        let burst = NonZeroU32::new(per_second.clamp(1.0, f64::from(u32::MAX)) as u32)?;
        let quota = Quota::with_period(Duration::from_secs_f64(1.0 / per_second))?;
        Some(Limiter {
            limiter: RateLimiter::direct_with_clock(quota.allow_burst(burst), clock),
        })
    }

    /// Takes a slot for one call now, or says how long until the next slot
    /// (taking nothing). Callers wait that long and ask again, or give up
    /// when it is past their budget.
    pub(crate) fn check(&self) -> Result<(), Duration> {
        self.limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    #[test]
    fn bursts_pass_then_calls_are_spaced() {
        let clock = FakeRelativeClock::default();
        let limiter = Limiter::with_clock(10.0, clock.clone()).expect("limited");
        for _ in 0..10 {
            assert_eq!(limiter.check(), Ok(()));
        }
        // The burst is spent: the next slot is one period (100 ms) away,
        // and asking again takes nothing.
        assert_eq!(limiter.check(), Err(Duration::from_millis(100)));
        clock.advance(Duration::from_millis(40));
        assert_eq!(limiter.check(), Err(Duration::from_millis(60)));
        clock.advance(Duration::from_millis(60));
        assert_eq!(limiter.check(), Ok(()));
        assert_eq!(limiter.check(), Err(Duration::from_millis(100)));
        // A quiet second refills the whole burst.
        clock.advance(Duration::from_secs(1));
        for _ in 0..10 {
            assert_eq!(limiter.check(), Ok(()));
        }
        assert!(limiter.check().is_err());
    }

    #[test]
    fn slow_rates_burst_one_call() {
        let clock = FakeRelativeClock::default();
        let limiter = Limiter::with_clock(0.5, clock.clone()).expect("limited");
        assert_eq!(limiter.check(), Ok(()));
        assert_eq!(limiter.check(), Err(Duration::from_secs(2)));
        clock.advance(Duration::from_secs(2));
        assert_eq!(limiter.check(), Ok(()));
    }

    #[test]
    fn zero_means_off() {
        assert!(Limiter::new(0.0).is_none());
        assert!(Limiter::new(-1.0).is_none());
        assert!(Limiter::new(f64::NAN).is_none());
    }
}
