//! A repository's state as the logs tell it: ok, or failing with an error class. Each change is
//! logged once — ok → failing at `warn`, one class → another at `warn`, failing → ok at `info`
//! — and nothing more while the state stays, so a repository failing for a week logs one line,
//! at the default level, with what Huawei support asks for (the gateway's `error_code` and the
//! `X-Request-Id`).
//!
//! The first answer counts as a change only when it is a failure: a repository failing from the
//! start logs once; 10,000 healthy repositories log nothing. The comparison is two small enums
//! per answer; a line (and its allocations) only on a change.
//!
//! Per answer of the fan-out, not per scrape: a repository a scrape's deadline cut off (shown as
//! `timeout` without a cache) keeps its state until its request ends. `/probe` keeps no state
//! and logs nothing here (its failures are logged at `debug` by the client).

use crate::config::Repository;
use crate::upstream::ErrorClass;

/// The state of a repository's last answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Health {
    /// Never answered (or not since it joined the plan again).
    #[default]
    Unknown,
    Ok,
    Failing(ErrorClass),
}

impl Health {
    /// The state after an answer with this outcome.
    pub(crate) fn of(outcome: Result<(), ErrorClass>) -> Self {
        match outcome {
            Ok(()) => Health::Ok,
            Err(class) => Health::Failing(class),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Health::Unknown => "none",
            Health::Ok => "ok",
            Health::Failing(class) => class.as_label(),
        }
    }
}

/// A change worth a log line: from `previous` to `current`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Change {
    pub previous: Health,
    pub current: Health,
}

/// The change from `previous` to `current`, if it is one to log.
pub(crate) fn change(previous: Health, current: Health) -> Option<Change> {
    let logged = match (previous, current) {
        (_, Health::Unknown) => false,
        (Health::Unknown, Health::Ok) => false,
        (a, b) => a != b,
    };
    logged.then_some(Change { previous, current })
}

/// What the answer that made the change said, besides its class.
pub(crate) struct Details<'a> {
    pub http_status: u16,
    pub error_code: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

/// Logs `change` of `repository`. Names no secret: ids, the class, the status, and the gateway's
/// own identifiers of the answer.
pub(crate) fn log(repository: &Repository, change: Change, details: &Details<'_>) {
    let name = repository.name.as_deref().unwrap_or("");
    let error_code = details.error_code.unwrap_or("");
    let request_id = details.request_id.unwrap_or("");
    match change.current {
        Health::Failing(class) => tracing::warn!(
            repository_id = %repository.id,
            repository = name,
            class = class.as_label(),
            previous = change.previous.label(),
            http_status = details.http_status,
            error_code,
            request_id,
            "repository failing: its statistics status request fails"
        ),
        Health::Ok => tracing::info!(
            repository_id = %repository.id,
            repository = name,
            previous = change.previous.label(),
            http_status = details.http_status,
            "repository recovered: its statistics status request succeeds again"
        ),
        Health::Unknown => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOT_FOUND: Health = Health::Failing(ErrorClass::NotFound);
    const FORBIDDEN: Health = Health::Failing(ErrorClass::Forbidden);

    #[test]
    fn changes_are_logged_once_and_steady_states_never() {
        use Health::*;
        let cases = [
            (Unknown, Ok, false),
            (Unknown, NOT_FOUND, true),
            (Ok, Ok, false),
            (Ok, NOT_FOUND, true),
            (NOT_FOUND, NOT_FOUND, false),
            (NOT_FOUND, FORBIDDEN, true),
            (NOT_FOUND, Ok, true),
            (Ok, Unknown, false),
        ];
        for (previous, current, logged) in cases {
            assert_eq!(
                change(previous, current).is_some(),
                logged,
                "{previous:?} -> {current:?}"
            );
        }
    }
}
