//! The rate limit shared by every upstream request, with a pause that a throttled answer
//! imposes on the whole client.
//!
//! A token bucket with a capacity of one request: requests are spaced `1 / rate` apart, which
//! is what a per-user gateway quota wants. governor was the first choice, but its `Quota`
//! cannot pause the bucket after an `APIG.0308` answer, which is the point of this type; the
//! bucket itself is ten lines on top of tokio's clock, so it lives here.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Spaces requests `1 / rate` seconds apart and honours pauses.
pub struct RateLimiter {
    interval: Option<Duration>,
    state: Mutex<State>,
}

struct State {
    /// The earliest moment the next request may start.
    next: Instant,
}

impl RateLimiter {
    /// `rate` in requests per second; `None` = no limit (pauses still apply).
    pub fn new(rate: Option<f64>) -> Self {
        Self {
            interval: rate.map(|rps| Duration::from_secs_f64(1.0 / rps)),
            state: Mutex::new(State {
                next: Instant::now(),
            }),
        }
    }

    /// Waits for a slot. Returns `false` without waiting when the slot would come after
    /// `deadline`, so a request that cannot be sent in time is not sent at all.
    pub async fn acquire(&self, deadline: Instant) -> bool {
        let slot = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = state.next.max(now);
            if slot > deadline {
                return false;
            }
            state.next = match self.interval {
                Some(interval) => slot + interval,
                None => slot,
            };
            slot
        };
        tokio::time::sleep_until(slot).await;
        true
    }

    /// Holds every request back until `until` (after a throttled answer), so the whole client
    /// slows down instead of each task finding the limit on its own.
    pub fn pause_until(&self, until: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if until > state.next {
            state.next = until;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_requests_by_the_rate() {
        let limiter = RateLimiter::new(Some(2.0));
        let start = Instant::now();
        let far = start + Duration::from_secs(60);
        for _ in 0..5 {
            assert!(limiter.acquire(far).await);
        }
        // 5 requests at 2/s: the first at once, the last 2 s later.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn allows_rates_below_one_per_second() {
        let limiter = RateLimiter::new(Some(0.2));
        let start = Instant::now();
        let far = start + Duration::from_secs(60);
        assert!(limiter.acquire(far).await);
        assert!(limiter.acquire(far).await);
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn refuses_a_slot_after_the_deadline() {
        let limiter = RateLimiter::new(Some(1.0));
        let start = Instant::now();
        assert!(limiter.acquire(start + Duration::from_millis(500)).await);
        assert!(!limiter.acquire(start + Duration::from_millis(500)).await);
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "a refused slot does not wait"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn pause_holds_back_even_an_unlimited_client() {
        let limiter = RateLimiter::new(None);
        let start = Instant::now();
        limiter.pause_until(start + Duration::from_secs(3));
        assert!(limiter.acquire(start + Duration::from_secs(10)).await);
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }
}
