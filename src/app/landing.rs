//! What the landing page shows, as data; [`crate::http`] renders it.

use std::time::SystemTime;

use crate::collect::RepositoryResult;

/// The landing page's content.
pub struct Landing {
    /// One line about the running configuration.
    pub summary: String,
    /// What expires and when, for credentials that do ("IAM token", time).
    pub credential_expiry: Option<(&'static str, SystemTime)>,
    /// `None` when discovery is off.
    pub discovery: Option<DiscoveryView>,
    /// Each watched repository's latest result; one never asked yet has neither data nor error.
    pub repositories: Vec<RepositoryResult>,
}

/// What discovery found last.
pub struct DiscoveryView {
    pub repositories: usize,
    pub last_success: Option<SystemTime>,
    pub last_error: Option<String>,
}
