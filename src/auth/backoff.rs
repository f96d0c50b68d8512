//! Backoff after failed credential requests (the metadata service, the project-id lookup): a
//! wait that doubles with each failure in a row up to a cap, and the last error for `/readyz`.

use std::time::Duration;

use tokio::time::Instant;

/// `base` doubled for each failure after the first, at most `cap`.
pub(crate) fn doubling(base: Duration, cap: Duration, failures: u32) -> Duration {
    base.saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(cap)
}

/// The failures of one kind of request in a row, and when the next may be sent.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    count: u32,
    retry_at: Option<Instant>,
    last_error: Option<String>,
}

impl Failures {
    /// No backoff is running.
    pub(crate) fn may_try(&self) -> bool {
        self.retry_at.is_none_or(|at| Instant::now() >= at)
    }

    /// Counts a failure with `message` and starts a backoff of `(base, cap)`; returns the wait.
    pub(crate) fn failed(
        &mut self,
        message: String,
        (base, cap): (Duration, Duration),
    ) -> Duration {
        self.count += 1;
        let wait = doubling(base, cap, self.count);
        self.retry_at = Some(Instant::now() + wait);
        self.last_error = Some(message);
        wait
    }

    pub(crate) fn succeeded(&mut self) {
        *self = Self::default();
    }

    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    pub(crate) fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// "failed N time(s), next try in Ns: <last error>".
    pub(crate) fn reason(&self) -> String {
        let wait = self
            .retry_at
            .map(|at| at.saturating_duration_since(Instant::now()))
            .unwrap_or_default();
        format!(
            "failed {} time(s), next try in {}s: {}",
            self.count,
            wait.as_secs(),
            self.last_error.as_deref().unwrap_or("unknown error")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(300));

    #[test]
    fn the_wait_doubles_up_to_the_cap() {
        let waits: Vec<u64> = (1..=8)
            .map(|n| doubling(BACKOFF.0, BACKOFF.1, n).as_secs())
            .collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(doubling(BACKOFF.0, BACKOFF.1, u32::MAX), BACKOFF.1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_holds_the_next_try_back_until_its_backoff_ends() {
        let mut failures = Failures::default();
        assert!(failures.may_try());
        assert_eq!(failures.failed("down".into(), BACKOFF), BACKOFF.0);
        assert!(!failures.may_try());
        assert!(failures
            .reason()
            .contains("failed 1 time(s), next try in 5s: down"));
        tokio::time::advance(BACKOFF.0).await;
        assert!(failures.may_try());
        assert_eq!(failures.failed("down".into(), BACKOFF), BACKOFF.0 * 2);
        failures.succeeded();
        assert!(failures.may_try());
        assert_eq!(failures.count(), 0);
    }
}
