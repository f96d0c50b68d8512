//! The closed set of failure classes (docs/upstream-api.md, "Error classes") and the one
//! function that maps a failure to its class.

use std::fmt;

/// Why a request for a repository's status failed. The label values never change: dashboards
/// and alerts match on them (docs/upstream-api.md, "Error classes").
/// The discriminants index per-class tables; [`ErrorClass::ALL`] lists them in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    Unauthorized = 0,
    Forbidden = 1,
    NotFound = 2,
    Throttled = 3,
    ClientError = 4,
    ServerError = 5,
    Timeout = 6,
    Connection = 7,
    InvalidResponse = 8,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 9] = [
        ErrorClass::Unauthorized,
        ErrorClass::Forbidden,
        ErrorClass::NotFound,
        ErrorClass::Throttled,
        ErrorClass::ClientError,
        ErrorClass::ServerError,
        ErrorClass::Timeout,
        ErrorClass::Connection,
        ErrorClass::InvalidResponse,
    ];

    /// The `class` label value.
    pub fn as_label(self) -> &'static str {
        match self {
            ErrorClass::Unauthorized => "unauthorized",
            ErrorClass::Forbidden => "forbidden",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Throttled => "throttled",
            ErrorClass::ClientError => "client_error",
            ErrorClass::ServerError => "server_error",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Connection => "connection",
            ErrorClass::InvalidResponse => "invalid_response",
        }
    }

    /// Whether a retry may help: the server or the network may recover, a 4xx will not.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorClass::Throttled | ErrorClass::ServerError | ErrorClass::Connection
        )
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_label())
    }
}

/// What went wrong with one request, before it is reduced to a class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// An HTTP answer outside 2xx. `error_code` is the gateway's or service's code, if the body
    /// carried one.
    Status {
        status: u16,
        error_code: Option<String>,
    },
    /// The request did not finish within `request_timeout` or the scrape deadline.
    Timeout,
    /// DNS, connect, TLS, or the connection broke while the answer was read.
    Connection,
    /// A 2xx answer whose body is not the expected JSON.
    InvalidBody,
    /// The body was larger than the cap; `status` is the HTTP status that came with it.
    TooLarge { status: u16 },
    /// No credential was available to send (unreadable token file, IAM refused us).
    NoCredential,
}

impl Failure {
    /// The HTTP status of the answer that failed, when one came (0 otherwise).
    pub fn http_status(&self) -> u16 {
        match self {
            Failure::Status { status, .. } | Failure::TooLarge { status } => *status,
            _ => 0,
        }
    }
}

/// Gateway codes that mean "slow down", whatever the HTTP status (docs/upstream-api.md,
/// "Throttling and retries").
const THROTTLING_CODES: [&str; 2] = ["APIG.0308", "APIGW.0308"];

/// The class of a failure: the only place this decision is made.
pub(crate) fn classify(failure: &Failure) -> ErrorClass {
    match failure {
        Failure::Status { status, error_code } => {
            let throttled_code = error_code
                .as_deref()
                .is_some_and(|code| THROTTLING_CODES.contains(&code));
            match status {
                _ if throttled_code => ErrorClass::Throttled,
                429 => ErrorClass::Throttled,
                401 => ErrorClass::Unauthorized,
                403 => ErrorClass::Forbidden,
                404 => ErrorClass::NotFound,
                400..=499 => ErrorClass::ClientError,
                500..=599 => ErrorClass::ServerError,
                // 1xx/3xx (redirects are not followed) and other oddities: not the answer we
                // asked for.
                _ => ErrorClass::InvalidResponse,
            }
        }
        Failure::Timeout => ErrorClass::Timeout,
        Failure::Connection => ErrorClass::Connection,
        Failure::InvalidBody | Failure::TooLarge { .. } => ErrorClass::InvalidResponse,
        Failure::NoCredential => ErrorClass::Unauthorized,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, code: Option<&str>) -> Failure {
        Failure::Status {
            status,
            error_code: code.map(str::to_owned),
        }
    }

    #[test]
    fn every_failure_maps_to_its_class() {
        let table = [
            (status(401, Some("DEV.00000003")), ErrorClass::Unauthorized),
            (status(403, Some("CH.004403")), ErrorClass::Forbidden),
            (status(404, None), ErrorClass::NotFound),
            (status(429, None), ErrorClass::Throttled),
            (status(429, Some("APIG.0308")), ErrorClass::Throttled),
            (status(403, Some("APIG.0308")), ErrorClass::Throttled),
            (status(400, Some("APIGW.0308")), ErrorClass::Throttled),
            (status(500, Some("APIG.0308")), ErrorClass::Throttled),
            (status(400, Some("CH.010001")), ErrorClass::ClientError),
            (status(413, None), ErrorClass::ClientError),
            (status(500, None), ErrorClass::ServerError),
            (status(502, None), ErrorClass::ServerError),
            (status(504, Some("CH.080504")), ErrorClass::ServerError),
            (status(302, None), ErrorClass::InvalidResponse),
            (status(101, None), ErrorClass::InvalidResponse),
            (Failure::Timeout, ErrorClass::Timeout),
            (Failure::Connection, ErrorClass::Connection),
            (Failure::InvalidBody, ErrorClass::InvalidResponse),
            (
                Failure::TooLarge { status: 200 },
                ErrorClass::InvalidResponse,
            ),
            (Failure::NoCredential, ErrorClass::Unauthorized),
        ];
        for (failure, expected) in table {
            assert_eq!(classify(&failure), expected, "{failure:?}");
        }
    }

    #[test]
    fn labels_are_the_documented_set() {
        let labels: Vec<_> = ErrorClass::ALL.iter().map(|c| c.as_label()).collect();
        assert_eq!(labels, codearts_testkit::exporter::ERROR_CLASSES);
    }

    #[test]
    fn all_lists_the_classes_in_discriminant_order() {
        for (index, class) in ErrorClass::ALL.iter().enumerate() {
            assert_eq!(*class as usize, index);
        }
    }

    #[test]
    fn only_transient_classes_are_retryable() {
        let retryable: Vec<_> = ErrorClass::ALL
            .into_iter()
            .filter(|c| c.is_retryable())
            .collect();
        assert_eq!(
            retryable,
            [
                ErrorClass::Throttled,
                ErrorClass::ServerError,
                ErrorClass::Connection
            ]
        );
    }
}
