//! The web config's `rate_limit`: one token bucket for the whole server, as exporter-toolkit's
//! (`rate.NewLimiter(rate.Every(interval), burst)`): up to `burst` requests at once, then one per
//! `interval`; a request finding the bucket empty is answered 429 before anything else runs.
//!
//! Hand-written rather than `governor`: it is a dozen lines under a mutex taken once per request,
//! and the exporter serves a handful of scrapes a minute.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A token bucket of `burst` tokens refilled one per `interval`.
#[derive(Debug)]
pub(crate) struct RequestLimit {
    interval: Duration,
    burst: u32,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RequestLimit {
    /// A full bucket. `interval` is above zero and `burst` at least one (checked when loading).
    pub(crate) fn new(interval: Duration, burst: u32) -> Self {
        Self {
            interval,
            burst,
            state: Mutex::new(Bucket {
                tokens: f64::from(burst),
                updated: Instant::now(),
            }),
        }
    }

    /// Takes a token if there is one.
    pub(crate) fn try_acquire(&self) -> bool {
        let mut bucket = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let refill = now.duration_since(bucket.updated).as_secs_f64() / self.interval.as_secs_f64();
        bucket.tokens = (bucket.tokens + refill).min(f64::from(self.burst));
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// `burst per interval`, for the summary.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} per {}",
            self.burst,
            humantime::format_duration(self.interval)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn allows_a_burst_then_one_per_interval() {
        let limit = RequestLimit::new(Duration::from_secs(10), 2);
        assert!(limit.try_acquire() && limit.try_acquire());
        assert!(!limit.try_acquire());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(!limit.try_acquire(), "half a token is not a request");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(limit.try_acquire());
        assert!(!limit.try_acquire());
        // Idle time fills the bucket up to the burst, not beyond.
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(limit.try_acquire() && limit.try_acquire());
        assert!(!limit.try_acquire());
    }
}
