//! Every metric name, HELP text and label name, declared once.

/// `(name, help)` of a metric.
pub struct Spec {
    pub name: &'static str,
    pub help: &'static str,
}

pub const LABEL_REPOSITORY_ID: &str = "repository_id";
pub const LABEL_REPOSITORY: &str = "repository";
pub const LABEL_CLASS: &str = "class";
pub const LABEL_STATUS: &str = "status";
pub const LABEL_BRANCH: &str = "branch";
pub const LABEL_STAT_DATE: &str = "stat_date";
pub const LABEL_ENDPOINT: &str = "endpoint";
pub const LABEL_SOURCE: &str = "source";

// Per-repository metrics, built fresh for every scrape.
pub const UP: Spec = Spec {
    name: "codearts_repo_statistics_up",
    help: "1 if the last statistics-status request for this repository succeeded, else 0.",
};
pub const CAN_STATISTICS: Spec = Spec {
    name: "codearts_repo_statistics_can_statistics",
    help: "API field can_statistics as 1/0: whether a statistics run may be started now. Results may be cached (see last_success_timestamp_seconds).",
};
pub const REASON: Spec = Spec {
    name: "codearts_repo_statistics_reason",
    help: "API field reason: 0 no quota used up, 1 repository quota used up, 2 user quota used up, 3 both. Results may be cached.",
};
pub const EVENT_STATUS: Spec = Spec {
    name: "codearts_repo_statistics_event_status",
    help: "API field event.status as a state set (waiting, active, finish, other): 1 for the current status. Results may be cached.",
};
pub const EVENT_INFO: Spec = Spec {
    name: "codearts_repo_statistics_event_info",
    help: "Always 1; labels carry API fields event.branch, event.status and event.stat_date as sent. Results may be cached.",
};
pub const EVENT_ID: Spec = Spec {
    name: "codearts_repo_statistics_event_id",
    help: "API field event.id of the latest statistics event. Results may be cached.",
};
pub const EVENT_CREATED: Spec = Spec {
    name: "codearts_repo_statistics_event_created_timestamp_seconds",
    help: "API field event.created_at as Unix seconds. Results may be cached.",
};
pub const EVENT_UPDATED: Spec = Spec {
    name: "codearts_repo_statistics_event_updated_timestamp_seconds",
    help: "API field event.updated_at as Unix seconds. Results may be cached.",
};
pub const EVENT_AGE: Spec = Spec {
    name: "codearts_repo_statistics_event_age_seconds",
    help: "Scrape time minus API field event.updated_at, in seconds.",
};
pub const ERROR: Spec = Spec {
    name: "codearts_repo_statistics_error",
    help: "1 with the error class while the last statistics-status request for this repository failed.",
};
pub const HTTP_STATUS: Spec = Spec {
    name: "codearts_repo_statistics_http_status",
    help:
        "HTTP status of the last statistics-status answer for this repository (0 when none came).",
};
pub const REQUEST_DURATION: Spec = Spec {
    name: "codearts_repo_statistics_request_duration_seconds",
    help: "How long the last statistics-status request for this repository took, retries included.",
};
pub const LAST_SUCCESS: Spec = Spec {
    name: "codearts_repo_statistics_last_success_timestamp_seconds",
    help: "Unix time at which the statistics data now shown for this repository was fetched.",
};

// The exporter's own metrics, long-lived.
pub const BUILD_INFO: Spec = Spec {
    name: "codearts_repo_exporter_build_info",
    help: "Always 1; labels carry the exporter's version and git revision.",
};
pub const SCRAPE_DURATION: Spec = Spec {
    name: "codearts_repo_exporter_scrape_duration_seconds",
    help: "How long the last scrape's fan-out took until its answer was served.",
};
pub const SCRAPE_TIMEOUT: Spec = Spec {
    name: "codearts_repo_exporter_scrape_timeout_seconds",
    help: "The deadline budget of the last scrape: the scrape-timeout header minus timeout_offset, or max_duration.",
};
pub const REPOSITORIES: Spec = Spec {
    name: "codearts_repo_exporter_repositories",
    help: "Repositories being watched, by source (static, discovered).",
};
pub const API_REQUESTS: Spec = Spec {
    name: "codearts_repo_exporter_api_requests_total",
    help: "Upstream API requests sent, by endpoint.",
};
pub const API_ERRORS: Spec = Spec {
    name: "codearts_repo_exporter_api_request_errors_total",
    help: "Upstream API requests that failed, by endpoint and error class (retried attempts included).",
};
pub const API_DURATION: Spec = Spec {
    name: "codearts_repo_exporter_api_request_duration_seconds",
    help: "Upstream API request latency, by endpoint.",
};
pub const API_RETRIES: Spec = Spec {
    name: "codearts_repo_exporter_api_request_retries_total",
    help:
        "Upstream API requests retried after a throttled, 5xx or connection failure, by endpoint.",
};
pub const API_IN_FLIGHT: Spec = Spec {
    name: "codearts_repo_exporter_api_requests_in_flight",
    help: "Upstream API requests in flight now, by endpoint.",
};
pub const CACHE_HITS: Spec = Spec {
    name: "codearts_repo_exporter_cache_hits_total",
    help: "Repository statuses served from the cache (younger than scrape.min_interval) instead of a request.",
};
pub const TOKEN_EXPIRY: Spec = Spec {
    name: "codearts_repo_exporter_auth_token_expiry_timestamp_seconds",
    help: "Unix time at which the IAM token in use expires (iam auth only).",
};
pub const RELOAD_SUCCESS: Spec = Spec {
    name: "codearts_repo_exporter_config_last_reload_successful",
    help: "1 if the last configuration reload succeeded, else 0.",
};
pub const RELOAD_TIMESTAMP: Spec = Spec {
    name: "codearts_repo_exporter_config_last_reload_success_timestamp_seconds",
    help: "Unix time of the last successful configuration load.",
};
pub const DISCOVERY_SUCCESS: Spec = Spec {
    name: "codearts_repo_exporter_discovery_last_success_timestamp_seconds",
    help: "Unix time of the last successful repository discovery.",
};
