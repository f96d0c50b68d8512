//! A credential the exporter obtains itself and renews before it expires: an IAM token
//! ([`super::iam`]) or the temporary keys of an ECS agency ([`super::metadata`]). Both are held,
//! renewed and backed off the same way; each source says only how one is fetched and how its
//! events read in the log ([`Source`]).
//!
//! - The credential held is handed out until its `renew_at`. From then the request that finds it
//!   due renews it, while the others go on with the old one: it is still usable.
//! - Only without a usable credential do requests wait, for one fetch however many they are
//!   (single flight), each until its own deadline at most.
//! - A failed fetch backs off ([`Failures`], the source says how long), and the credential held
//!   stays in use until it is no longer usable.
//! - A credential the API refused as expired or invalid is dropped for a new one, as often as
//!   [`Rejections`] allows.

use std::borrow::Borrow;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::backoff::Failures;
use super::error::AuthError;
use super::metrics::Expiry;
use super::rejection::Rejections;

/// A credential just obtained, and when it expires, is due for renewal and stops being used.
#[derive(Clone)]
pub(crate) struct Fresh<T> {
    pub value: T,
    pub expires_at: SystemTime,
    /// From this moment the next request renews it.
    pub renew_at: SystemTime,
    /// After this moment it is not sent any more: a request could outlive it.
    pub usable_until: SystemTime,
}

impl<T> Fresh<T> {
    /// Whether it may still be sent at `now`.
    pub(crate) fn usable_at(&self, now: SystemTime) -> bool {
        now < self.usable_until
    }
}

/// Why a fetch failed, and how long to back off before the next (a refused password waits
/// longer than a timeout).
pub(crate) struct Failed {
    pub message: String,
    pub backoff: (Duration, Duration),
}

/// Where a renewing credential comes from, and how its events read.
pub(crate) trait Source {
    type Credential: Clone;

    /// One request for a fresh credential, finished by `deadline`.
    fn fetch(
        &self,
        deadline: Instant,
    ) -> impl Future<Output = Result<Fresh<Self::Credential>, Failed>> + Send;

    /// Logs a credential obtained; `held` is the one it replaces, if any.
    fn log_obtained(&self, fresh: &Fresh<Self::Credential>, held: Option<&Self::Credential>);

    /// Logs a failed fetch: the `failures` in a row, the `wait` until the next may be sent, and
    /// until when the credential held stays in use (`None`: none is).
    fn log_failed(&self, message: &str, failures: u32, wait: Duration, keeping: Option<SystemTime>);

    /// Logs a refused credential being dropped for a new one.
    fn log_dropped(&self);

    /// The reason given to a request whose deadline came while another request was fetching.
    fn still_fetching(&self) -> String;

    /// The reason given to a request that finds no credential while a backoff runs.
    fn backing_off(&self, failures: &Failures) -> String;
}

/// The credential held and the failures since it was obtained.
pub(crate) struct Held<T> {
    pub credential: Option<Fresh<T>>,
    pub failures: Failures,
}

/// A credential of `S`, fetched on demand and renewed ahead of expiry.
pub(crate) struct Renewing<S: Source> {
    source: S,
    held: Mutex<Held<S::Credential>>,
    /// Held while a fetch is in flight: one fetch, however many callers.
    fetching: tokio::sync::Mutex<()>,
    /// The expiry of the credential held, for the metric and the landing page.
    expiry: Arc<Expiry>,
    rejections: Rejections,
}

impl<S: Source> Renewing<S> {
    pub(crate) fn new(source: S, expiry: Arc<Expiry>) -> Self {
        Self {
            source,
            held: Mutex::new(Held {
                credential: None,
                failures: Failures::default(),
            }),
            fetching: tokio::sync::Mutex::new(()),
            expiry,
            rejections: Rejections::default(),
        }
    }

    pub(crate) fn source(&self) -> &S {
        &self.source
    }

    /// The credential held and the failures since, for `/readyz`.
    pub(crate) fn held(&self) -> MutexGuard<'_, Held<S::Credential>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn usable(&self) -> Option<Fresh<S::Credential>> {
        let now = SystemTime::now();
        self.held()
            .credential
            .clone()
            .filter(|credential| credential.usable_at(now))
    }

    /// The credential to use now. Renews ahead of expiry without making callers wait while the
    /// old credential is still good; waits (single flight, until `deadline` at most) only when
    /// there is none.
    pub(crate) async fn get(&self, deadline: Instant) -> Result<S::Credential, AuthError> {
        if let Some(held) = self.usable() {
            if SystemTime::now() < held.renew_at {
                return Ok(held.value);
            }
            // Due for renewal: one caller renews, the others go on with the old credential.
            if let Ok(_guard) = self.fetching.try_lock() {
                if self.held().failures.may_try() {
                    if let Ok(fresh) = self.fetch(deadline).await {
                        return Ok(fresh);
                    }
                }
            }
            return Ok(held.value);
        }
        let Ok(_guard) = tokio::time::timeout_at(deadline, self.fetching.lock()).await else {
            return Err(AuthError::StillFetching(self.source.still_fetching()));
        };
        // Someone else may have fetched while we waited for the lock.
        if let Some(held) = self.usable() {
            return Ok(held.value);
        }
        let backing_off = {
            let held = self.held();
            (!held.failures.may_try()).then(|| self.source.backing_off(&held.failures))
        };
        if let Some(reason) = backing_off {
            return Err(AuthError::Unavailable(reason));
        }
        self.fetch(deadline).await
    }

    /// Forgets `sent` after the API said it expired or is invalid. Returns whether a fresh
    /// credential may be fetched now (so one retry is worth it).
    pub(crate) fn invalidate<Q>(&self, sent: &Q) -> bool
    where
        S::Credential: Borrow<Q>,
        Q: PartialEq + ?Sized,
    {
        let mut held = self.held();
        let current = held
            .credential
            .as_ref()
            .is_some_and(|credential| credential.value.borrow() == sent);
        if !current {
            // Already replaced (or dropped) since this request was sent: a retry gets the new
            // one, or waits for the fetch under way.
            return held.credential.is_some() || held.failures.may_try();
        }
        if !self.rejections.allow_renewal() {
            return false;
        }
        self.source.log_dropped();
        held.credential = None;
        self.expiry.set(None);
        held.failures.may_try()
    }

    /// The request retried after [`Renewing::invalidate`] went through.
    pub(crate) fn renewal_worked(&self) {
        self.rejections.renewal_worked();
    }

    /// One fetch. Callers hold `fetching`.
    async fn fetch(&self, deadline: Instant) -> Result<S::Credential, AuthError> {
        match self.source.fetch(deadline).await {
            Ok(fresh) => {
                let value = fresh.value.clone();
                let mut held = self.held();
                self.source.log_obtained(
                    &fresh,
                    held.credential.as_ref().map(|credential| &credential.value),
                );
                self.expiry.set(Some(fresh.expires_at));
                held.credential = Some(fresh);
                held.failures.succeeded();
                Ok(value)
            }
            Err(failed) => {
                let mut held = self.held();
                let wait = held.failures.failed(failed.message.clone(), failed.backoff);
                let keeping = held
                    .credential
                    .as_ref()
                    .filter(|credential| credential.usable_at(SystemTime::now()))
                    .map(|credential| credential.expires_at);
                self.source
                    .log_failed(&failed.message, held.failures.count(), wait, keeping);
                Err(AuthError::Unavailable(failed.message))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);
    const BACKOFF: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(300));

    /// Hands out credential 1, 2, 3… after `delay`, due for renewal `renew_in` after it is
    /// obtained; fails while `failing` is set.
    struct Numbered {
        fetches: AtomicU32,
        delay: Duration,
        renew_in: Duration,
        failing: AtomicBool,
    }

    impl Numbered {
        fn new(delay: Duration, renew_in: Duration) -> Renewing<Self> {
            let source = Self {
                fetches: AtomicU32::new(0),
                delay,
                renew_in,
                failing: AtomicBool::new(false),
            };
            Renewing::new(source, Arc::new(Expiry::default()))
        }
    }

    impl Source for Numbered {
        type Credential = u32;

        async fn fetch(&self, _deadline: Instant) -> Result<Fresh<u32>, Failed> {
            let number = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(self.delay).await;
            if self.failing.load(Ordering::SeqCst) {
                return Err(Failed {
                    message: format!("fetch {number} failed"),
                    backoff: BACKOFF,
                });
            }
            let now = SystemTime::now();
            Ok(Fresh {
                value: number,
                expires_at: now + HOUR,
                renew_at: now + self.renew_in,
                usable_until: now + HOUR,
            })
        }

        fn log_obtained(&self, _: &Fresh<u32>, _: Option<&u32>) {}
        fn log_failed(&self, _: &str, _: u32, _: Duration, _: Option<SystemTime>) {}
        fn log_dropped(&self) {}

        fn still_fetching(&self) -> String {
            "still fetching".to_owned()
        }

        fn backing_off(&self, failures: &Failures) -> String {
            format!("backing off: {}", failures.reason())
        }
    }

    fn fetches(renewing: &Renewing<Numbered>) -> u32 {
        renewing.source().fetches.load(Ordering::SeqCst)
    }

    fn far() -> Instant {
        Instant::now() + HOUR
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_fetch() {
        let renewing = Numbered::new(Duration::from_secs(1), HOUR);
        let all = futures::future::join_all((0..50).map(|_| renewing.get(far()))).await;
        assert!(
            all.iter().all(|got| matches!(got, Ok(1))),
            "{:?}",
            all.len()
        );
        assert_eq!(fetches(&renewing), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_waits_for_the_fetch_in_flight_only_until_its_deadline() {
        let renewing = Numbered::new(Duration::from_secs(10), HOUR);
        let (first, second) = tokio::join!(
            renewing.get(far()),
            renewing.get(Instant::now() + Duration::from_secs(1)),
        );
        assert_eq!(first.unwrap(), 1);
        assert_eq!(second.unwrap_err().to_string(), "still fetching");
        assert_eq!(fetches(&renewing), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_credential_due_for_renewal_is_renewed_by_one_caller_while_the_others_use_it() {
        let renewing = Numbered::new(Duration::from_secs(1), Duration::ZERO);
        assert_eq!(renewing.get(far()).await.unwrap(), 1);
        let (renewer, other) = tokio::join!(renewing.get(far()), async {
            // Starts while the renewal is in flight.
            tokio::task::yield_now().await;
            let started = Instant::now();
            let got = renewing.get(far()).await.unwrap();
            (got, started.elapsed())
        });
        assert_eq!(renewer.unwrap(), 2);
        assert_eq!(other, (1, Duration::ZERO), "the old one, without waiting");
        assert_eq!(fetches(&renewing), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_renewal_keeps_the_credential_held_and_backs_off() {
        let renewing = Numbered::new(Duration::ZERO, Duration::ZERO);
        assert_eq!(renewing.get(far()).await.unwrap(), 1);
        renewing.source().failing.store(true, Ordering::SeqCst);
        assert_eq!(renewing.get(far()).await.unwrap(), 1, "the renewal failed");
        assert_eq!(renewing.get(far()).await.unwrap(), 1);
        assert_eq!(fetches(&renewing), 2, "no second try inside the backoff");
        tokio::time::advance(BACKOFF.0).await;
        renewing.source().failing.store(false, Ordering::SeqCst);
        assert_eq!(renewing.get(far()).await.unwrap(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_credential_a_running_backoff_refuses_at_once() {
        let renewing = Numbered::new(Duration::ZERO, HOUR);
        renewing.source().failing.store(true, Ordering::SeqCst);
        assert_eq!(
            renewing.get(far()).await.unwrap_err().to_string(),
            "fetch 1 failed"
        );
        assert_eq!(
            renewing.get(far()).await.unwrap_err().to_string(),
            "backing off: failed 1 time(s), next try in 5s: fetch 1 failed"
        );
        assert_eq!(fetches(&renewing), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn only_the_credential_held_is_dropped_when_refused() {
        let renewing = Numbered::new(Duration::ZERO, HOUR);
        assert_eq!(renewing.get(far()).await.unwrap(), 1);
        assert!(
            renewing.invalidate(&7),
            "another credential: a retry gets the one held"
        );
        assert_eq!(renewing.get(far()).await.unwrap(), 1);
        assert!(renewing.invalidate(&1), "dropped; a new one may be fetched");
        assert_eq!(renewing.get(far()).await.unwrap(), 2);
        assert!(
            !renewing.invalidate(&2),
            "refused again at once: the fresh one is not dropped"
        );
        assert_eq!(renewing.get(far()).await.unwrap(), 2);
    }
}
