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
    /// Whether `/metrics` has been scraped since the start. Before that no repository has an
    /// answer; after it, one without an answer has its request under way or joined the list
    /// since.
    pub scraped: bool,
    /// Each watched repository's latest result; one without an answer yet has neither data nor
    /// error.
    pub repositories: Vec<RepositoryResult>,
}

/// What discovery found last.
pub struct DiscoveryView {
    pub repositories: usize,
    pub last_success: Option<SystemTime>,
    pub last_error: Option<String>,
}
