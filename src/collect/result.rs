//! What one scrape shows for each repository: the type [`crate::metrics`] turns into text.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::client::StatisticsStatus;
use crate::config::Repository;
use crate::upstream::ErrorClass;

/// What to show for one repository in one scrape.
#[derive(Debug, Clone)]
pub struct RepositoryResult {
    pub repository: Repository,
    /// The statistics data shown; `None` when the last request failed.
    pub status: Option<Arc<StatisticsStatus>>,
    pub error: Option<ErrorClass>,
    pub http_status: u16,
    pub duration: Duration,
    /// When the data shown (or, on failure, the last good data) was fetched.
    pub last_success: Option<SystemTime>,
    /// When the answer shown — data or failure — came; `None` when none came in time.
    pub answered: Option<SystemTime>,
    /// The last push, with `last_push` on; `None` while it is off or was never asked.
    pub last_push: Option<LastPush>,
}

impl RepositoryResult {
    /// `status`, answered now with HTTP 200 after `duration`: what a successful request shows.
    pub fn succeeded(repository: Repository, status: StatisticsStatus, duration: Duration) -> Self {
        let now = SystemTime::now();
        Self {
            repository,
            status: Some(Arc::new(status)),
            error: None,
            http_status: 200,
            duration,
            last_success: Some(now),
            answered: Some(now),
            last_push: None,
        }
    }
}

/// What the latest last-push request said.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LastPush {
    /// Whether the request succeeded.
    pub up: bool,
    /// When the push happened, in Unix seconds; `None` when the request failed, the repository
    /// has no recorded push, or the time was unusable (unparseable, or in the future).
    pub pushed_at: Option<f64>,
}
