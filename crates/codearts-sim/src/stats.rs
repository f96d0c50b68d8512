//! The simulator's own counters, read by tests and by the benchmark through `GET /-/stats`
//! (`GET /-/…` requests are never counted).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use serde::Serialize;

/// Live counters; every field only ever grows except `in_flight`.
#[derive(Debug, Default)]
pub struct SimStats {
    /// Every request except those to `/-/…`.
    pub requests: AtomicU64,
    /// `GET /v4/repositories/{id}/repository/statistics-status`.
    pub status_requests: AtomicU64,
    /// `POST /v3/auth/tokens`.
    pub iam_token_requests: AtomicU64,
    /// `GET /v4/user/repositories`.
    pub list_requests: AtomicU64,
    /// `GET /v4/repositories/{id}/last-push-event`.
    pub last_push_requests: AtomicU64,
    /// `GET /v3/projects`.
    pub iam_project_requests: AtomicU64,
    /// Both routes of the ECS metadata service.
    pub metadata_requests: AtomicU64,
    /// Requests refused for missing, wrong or expired credentials.
    pub auth_failures: AtomicU64,
    /// TCP connections accepted.
    pub connections_accepted: AtomicU64,
    /// Requests being answered right now.
    pub in_flight: AtomicU64,
    /// The highest `in_flight` seen.
    pub max_in_flight: AtomicU64,
}

/// The counters at one moment, as served by `GET /-/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SimStatsSnapshot {
    pub requests: u64,
    pub status_requests: u64,
    pub iam_token_requests: u64,
    pub list_requests: u64,
    pub last_push_requests: u64,
    pub iam_project_requests: u64,
    pub metadata_requests: u64,
    pub auth_failures: u64,
    pub connections_accepted: u64,
    pub in_flight: u64,
    pub max_in_flight: u64,
}

impl SimStats {
    /// Reads every counter; the values are each exact but not taken at one atomic instant.
    pub fn snapshot(&self) -> SimStatsSnapshot {
        SimStatsSnapshot {
            requests: self.requests.load(Relaxed),
            status_requests: self.status_requests.load(Relaxed),
            iam_token_requests: self.iam_token_requests.load(Relaxed),
            list_requests: self.list_requests.load(Relaxed),
            last_push_requests: self.last_push_requests.load(Relaxed),
            iam_project_requests: self.iam_project_requests.load(Relaxed),
            metadata_requests: self.metadata_requests.load(Relaxed),
            auth_failures: self.auth_failures.load(Relaxed),
            connections_accepted: self.connections_accepted.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            max_in_flight: self.max_in_flight.load(Relaxed),
        }
    }

    pub(crate) fn count_connection(&self) {
        self.connections_accepted.fetch_add(1, Relaxed);
    }

    /// Counts a request and marks it in flight until the returned guard drops.
    pub(crate) fn begin_request(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Relaxed);
        let now = self.in_flight.fetch_add(1, Relaxed) + 1;
        self.max_in_flight.fetch_max(now, Relaxed);
        InFlight(self.clone())
    }
}

/// One request in flight; decrements [`SimStats::in_flight`] on drop, also when the request is
/// cancelled by a client that hangs up.
pub(crate) struct InFlight(Arc<SimStats>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_rises_and_falls_and_remembers_its_maximum() {
        let stats = Arc::new(SimStats::default());
        let first = stats.begin_request();
        let second = stats.begin_request();
        drop(first);
        let third = stats.begin_request();
        assert_eq!(stats.snapshot().in_flight, 2);
        drop((second, third));
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.in_flight, 0);
        assert_eq!(snapshot.max_in_flight, 2);
        assert_eq!(snapshot.requests, 3);
    }
}
