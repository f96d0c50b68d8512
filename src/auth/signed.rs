//! The signed modes, `aksk` and `ecs_agency`: keys from files or from the metadata service, an
//! `X-Project-Id` from the config or from IAM, and what a 401 on a signed request means.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::time::Instant;

use super::aksk::{sign, KeyFiles, Keys};
use super::error::AuthError;
use super::metadata::AgencyCredentials;
use super::project::ProjectId;

/// Where the keys come from.
pub(crate) enum KeySource {
    /// `aksk`: files (or inline values), read again when they change.
    Files(KeyFiles),
    /// `ecs_agency`: the metadata service, renewed ahead of expiry.
    Agency(AgencyCredentials),
}

pub(crate) struct SignedAuth {
    keys: KeySource,
    project: ProjectId,
    /// A rejected signature is logged once: the gateway's message is the same for every
    /// request, and five bad signatures lock the key for five minutes anyway.
    logged_rejection: AtomicBool,
}

impl SignedAuth {
    pub(crate) fn new(keys: KeySource, project: ProjectId) -> Self {
        Self {
            keys,
            project,
            logged_rejection: AtomicBool::new(false),
        }
    }

    async fn current_keys(&self, deadline: Instant) -> Result<Arc<Keys>, AuthError> {
        match &self.keys {
            KeySource::Files(files) => Ok(files.current().map(Arc::new)?),
            KeySource::Agency(agency) => agency.keys(deadline).await,
        }
    }

    /// Signs `request`; returns the keys used, so a 401 can be matched to them.
    pub(crate) async fn apply(
        &self,
        request: &mut reqwest::Request,
        deadline: Instant,
    ) -> Result<Arc<Keys>, AuthError> {
        let keys = self.current_keys(deadline).await?;
        let project = self.project.get(&keys, deadline).await?;
        sign(
            request,
            &keys,
            project.as_deref(),
            time::OffsetDateTime::now_utc(),
        )?;
        Ok(keys)
    }

    /// A 401 on a request signed with `sent`. `credential_dead`: the gateway's code says the
    /// credential expired or is invalid. Returns whether one retry is worth it:
    /// - key files that changed since the request was signed (a rotation): retry with the new;
    /// - a temporary credential from the metadata service said to be dead: drop it and fetch a
    ///   new one, as often as the rejection backoff allows;
    /// - anything else is never retried: five bad signatures lock the key for five minutes.
    pub(crate) fn rejected(
        &self,
        sent: &Keys,
        credential_dead: bool,
        error_msg: Option<&str>,
    ) -> bool {
        let retry = match &self.keys {
            KeySource::Files(files) => files.current().is_ok_and(|now| now != *sent),
            KeySource::Agency(agency) => credential_dead && agency.invalidate(sent),
        };
        if !retry && !self.logged_rejection.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error_msg = error_msg.unwrap_or(""),
                "the gateway refused the AK/SK signature; not retrying (five failures lock the key for five minutes). Check the keys, the security token and the clock (the signature expires after 15 minutes of skew)"
            );
        }
        retry
    }

    /// The retried request went through with a renewed credential.
    pub(crate) fn renewal_worked(&self) {
        if let KeySource::Agency(agency) = &self.keys {
            agency.renewal_worked();
        }
    }

    /// `Ok` once the keys and the project id are there; the reason otherwise.
    pub(crate) fn readiness(&self) -> Result<(), AuthError> {
        match &self.keys {
            KeySource::Files(files) => files.current().map(|_| ())?,
            KeySource::Agency(agency) => agency.readiness()?,
        }
        self.project.readiness()
    }

    /// Fetches the first credential and looks up the project id, ahead of the first scrape.
    pub(crate) async fn warm_up(&self, deadline: Instant) {
        if let Ok(keys) = self.current_keys(deadline).await {
            let _ = self.project.get(&keys, deadline).await;
        }
    }
}
