//! Rate-limited warnings: under a flood, one line per interval says what
//! happens and how often, instead of one line per event.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lets an event through at most once per `every`, counting the ones held
/// back in between.
#[derive(Debug)]
pub struct Throttle {
    every: Duration,
    state: Mutex<(Option<Instant>, u64)>,
}

impl Throttle {
    pub const fn new(every: Duration) -> Throttle {
        Throttle {
            every,
            state: Mutex::new((None, 0)),
        }
    }

    /// `Some(n)` when this event should be logged, `n` being the events
    /// held back since the last one that was; `None` to stay quiet.
    pub fn ready(&self) -> Option<u64> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (last, held) = &mut *state;
        if last.is_none_or(|at| at.elapsed() >= self.every) {
            *last = Some(Instant::now());
            Some(std::mem::take(held))
        } else {
            *held += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lets_one_event_through_per_interval() {
        let throttle = Throttle::new(Duration::from_secs(3_600));
        assert_eq!(throttle.ready(), Some(0));
        assert_eq!(throttle.ready(), None);
        assert_eq!(throttle.ready(), None);
        let open = Throttle::new(Duration::ZERO);
        assert_eq!(open.ready(), Some(0));
        assert_eq!(open.ready(), Some(0));
    }
}
