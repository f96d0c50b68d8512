//! How soon a credential the API refused may be dropped and renewed again.
//!
//! A 401 saying "this token (or security token) is dead" drops the credential and renews it,
//! and the request is retried once. If the fresh credential is refused too, the 401 is probably
//! not about the credential (a repository whose answer is always "expired"), and renewing on
//! every such answer would cost an IAM or metadata request per scrape. So each renewal after a
//! refusal opens a quiet window in which further refusals renew nothing: 10 s after the first,
//! doubling with each refusal in a row up to 5 min. A renewal that worked (the retried request
//! succeeded) closes the window and starts the count again, so a genuine revocation an hour
//! later is handled at once.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::backoff::doubling;

/// The quiet window after a renewal: 10 s doubling to 5 min.
pub(crate) const REJECTED_BACKOFF: (Duration, Duration) =
    (Duration::from_secs(10), Duration::from_secs(300));

/// Refusals of one credential in a row.
#[derive(Debug, Default)]
pub(crate) struct Rejections(Mutex<State>);

#[derive(Debug, Default)]
struct State {
    strikes: u32,
    quiet_until: Option<Instant>,
}

impl Rejections {
    /// A refused credential: `true` when it may be renewed now (and a renewal is counted);
    /// `false` inside the quiet window of the previous renewal.
    pub(crate) fn allow_renewal(&self) -> bool {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if state.quiet_until.is_some_and(|until| now < until) {
            return false;
        }
        state.strikes += 1;
        let (base, cap) = REJECTED_BACKOFF;
        state.quiet_until = Some(now + doubling(base, cap, state.strikes));
        true
    }

    /// The renewed credential worked: the next refusal renews at once.
    pub(crate) fn renewal_worked(&self) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *state = State::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_second_refusal_waits_a_short_window_that_grows() {
        let rejections = Rejections::default();
        assert!(
            rejections.allow_renewal(),
            "the first refusal renews at once"
        );
        assert!(
            !rejections.allow_renewal(),
            "the fresh credential refused too"
        );
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(rejections.allow_renewal(), "after 10 s, not 5 min");
        tokio::time::advance(Duration::from_secs(19)).await;
        assert!(!rejections.allow_renewal(), "the window doubled to 20 s");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(rejections.allow_renewal());
        for _ in 0..10 {
            tokio::time::advance(Duration::from_secs(300)).await;
            assert!(rejections.allow_renewal(), "never more than 5 min");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_renewal_that_worked_starts_the_count_again() {
        let rejections = Rejections::default();
        assert!(rejections.allow_renewal());
        rejections.renewal_worked();
        assert!(
            rejections.allow_renewal(),
            "a new revocation renews at once"
        );
    }
}
