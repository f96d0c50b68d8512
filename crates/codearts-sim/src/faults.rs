//! The injected failures: which repositories fail, how, and which error class each must produce.
//!
//! The set is fixed by position in the repository list so that tests and the demo can rely on
//! it. Every error class that an HTTP server can cause is here; `connection` is not (a
//! closed port produces it).
//!
//! Error bodies come in every shape the official SDK reads
//! (`huaweicloudsdkcore/exceptions/exception_handler.py`: `error_code`/`error_msg`, then
//! `errorCode`/`errorMsg`, then `code`/`message`, then the same inside nested objects; any value
//! type), so a client that only knows the v4 shape misclassifies some of them.
//!
//! | id | demo path | answer | body shape | class |
//! |---|---|---|---|---|
//! | 2111915005 | platform/service-mesh | 401 `DEV.00000003` | `error_code`/`error_msg` | unauthorized |
//! | 2111915012 | data/pipelines/stream-ingest | 429 `APIG.0308` | gateway `error_code`/`error_msg`/`request_id` | throttled |
//! | 2111915015 | web/admin-console | 400 `CH.010001` | v1 envelope `{"error":{"code","message"},"status"}` (depth 2) | client_error |
//! | 2111915019 | infra/ci-templates | 200, truncated JSON | — | invalid_response |
//! | 2111915022 | search/indexer | 403 `APIG.0308` | `errorCode`/`errorMsg` | throttled |
//! | 2111915026 | security/vault-config | 403 `CH.004403` | `code`/`message` | forbidden |
//! | 2111915031 | logistics/warehouse-scanner | 500, HTML | not JSON | server_error |
//! | 2111915038 | marketing/campaign-manager | 502, HTML | not JSON | server_error |
//! | 2111915042 | iot/device-registry | 200, JSON array | — | invalid_response |
//! | 2111915044 | finance/invoicing | 504 after 60 s | `error_code`/`error_msg` | timeout |
//! | 2111915047 | tools/release-bot | 404 `CH.00402000` | `{"status","result":{"error":{"error_code","error_msg"}}}` (depth 3) | not_found |
//! | 2111915009 | mobile/ios-app | 503, HTML, in odd minutes (flaky) | not JSON | server_error |
//! | 2111915040 | notifications/email-sender | 429 in seconds 0–19 (flaky) | numeric `error_code` | throttled |

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::time::Duration;

use serde_json::json;

use super::routes::{error_response, json_response};

/// How one repository fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// 401 `DEV.00000003`.
    AuthenticationExpired,
    /// 403 `CH.004403`.
    Forbidden,
    /// 404 `CH.00402000`, although the repository is listed (deleted since discovery).
    NotFound,
    /// 429 `APIG.0308`.
    Throttled,
    /// 403 whose body carries `APIG.0308`: still throttling.
    ThrottledAs403,
    /// 400 `CH.010001`.
    BadRequest,
    /// 500 with an HTML page.
    InternalErrorHtml,
    /// 502 with an HTML page from the load balancer.
    BadGatewayHtml,
    /// 200 with a truncated JSON object.
    MalformedJson,
    /// 200 with a JSON array instead of an object.
    JsonArray,
    /// Answers after a minute (504 `CH.080504`), later than any sensible client timeout.
    NeverAnswers,
    /// 503 with an HTML page during every other minute, healthy otherwise.
    UnavailableEveryOtherMinute,
    /// 429 `APIG.0308` during the first 20 seconds of every minute, healthy otherwise.
    ThrottledPartOfEachMinute,
}

/// (index in the repository list, fault). Spread over the demo's 48 repositories.
pub(crate) const FAULTS: [(u32, Fault); 13] = [
    (5, Fault::AuthenticationExpired),
    (9, Fault::UnavailableEveryOtherMinute),
    (12, Fault::Throttled),
    (15, Fault::BadRequest),
    (19, Fault::MalformedJson),
    (22, Fault::ThrottledAs403),
    (26, Fault::Forbidden),
    (31, Fault::InternalErrorHtml),
    (38, Fault::BadGatewayHtml),
    (40, Fault::ThrottledPartOfEachMinute),
    (42, Fault::JsonArray),
    (44, Fault::NeverAnswers),
    (47, Fault::NotFound),
];

/// How long [`Fault::NeverAnswers`] keeps a request waiting.
pub(crate) const NEVER_ANSWERS_DELAY: Duration = Duration::from_secs(60);

/// The fault of the repository at `index`, if it has one.
pub(crate) fn fault_at(index: u32) -> Option<Fault> {
    FAULTS
        .iter()
        .find(|(at, _)| *at == index)
        .map(|&(_, fault)| fault)
}

impl Fault {
    /// The error class (`codearts_repo_statistics_error{class}`) the exporter must report.
    pub(crate) fn expected_class(self) -> &'static str {
        match self {
            Self::AuthenticationExpired => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Throttled | Self::ThrottledAs403 | Self::ThrottledPartOfEachMinute => "throttled",
            Self::BadRequest => "client_error",
            Self::InternalErrorHtml | Self::BadGatewayHtml | Self::UnavailableEveryOtherMinute => {
                "server_error"
            }
            Self::MalformedJson | Self::JsonArray => "invalid_response",
            Self::NeverAnswers => "timeout",
        }
    }

    pub(crate) fn is_flaky(self) -> bool {
        matches!(
            self,
            Self::UnavailableEveryOtherMinute | Self::ThrottledPartOfEachMinute
        )
    }

    /// The failing answer at `unix_seconds`, or `None` when a flaky repository is healthy then.
    pub(crate) async fn answer(self, unix_seconds: i64) -> Option<Response> {
        let response = match self {
            Self::AuthenticationExpired => error_response(
                StatusCode::UNAUTHORIZED,
                "DEV.00000003",
                "Authentication information expired.",
            ),
            Self::Forbidden => shaped(
                StatusCode::FORBIDDEN,
                json!({"code": "CH.004403",
                       "message": "Insufficient permissions. Apply for the required permissions and try again."}),
            ),
            Self::NotFound => shaped(
                StatusCode::NOT_FOUND,
                json!({"status": "failed", "result": {"error": {
                    "error_code": "CH.00402000",
                    "error_msg": "The repository does not exist or you do not have permission to access it."}}}),
            ),
            Self::Throttled => throttled(StatusCode::TOO_MANY_REQUESTS),
            Self::ThrottledAs403 => shaped(
                StatusCode::FORBIDDEN,
                json!({"errorCode": "APIG.0308", "errorMsg": THROTTLED_MESSAGE}),
            ),
            Self::BadRequest => shaped(
                StatusCode::BAD_REQUEST,
                json!({"error": {"code": "CH.010001", "message": "Invalid parameter value format."},
                       "status": "failed"}),
            ),
            Self::InternalErrorHtml => html_error(StatusCode::INTERNAL_SERVER_ERROR),
            Self::BadGatewayHtml => html_error(StatusCode::BAD_GATEWAY),
            Self::MalformedJson => json_response(
                StatusCode::OK,
                r#"{"can_statistics":true,"reason":0,"event":{"id":18231,"status":"fin"#.to_owned(),
            ),
            Self::JsonArray => json_response(
                StatusCode::OK,
                r#"[{"can_statistics":true,"reason":0}]"#.to_owned(),
            ),
            Self::NeverAnswers => {
                tokio::time::sleep(NEVER_ANSWERS_DELAY).await;
                error_response(
                    StatusCode::GATEWAY_TIMEOUT,
                    "CH.080504",
                    "Request timed out.",
                )
            }
            Self::UnavailableEveryOtherMinute => {
                if unix_seconds.div_euclid(60) % 2 == 0 {
                    return None;
                }
                html_error(StatusCode::SERVICE_UNAVAILABLE)
            }
            Self::ThrottledPartOfEachMinute => {
                if unix_seconds.rem_euclid(60) >= 20 {
                    return None;
                }
                shaped(
                    StatusCode::TOO_MANY_REQUESTS,
                    json!({"error_code": 429, "error_msg": "Too Many Requests"}),
                )
            }
        };
        Some(response)
    }
}

const THROTTLED_MESSAGE: &str =
    "The throttling threshold has been reached: policy user over ratelimit,limit:100,time:1 minute";

/// The gateway's own throttling answer, with its `request_id`.
fn throttled(status: StatusCode) -> Response {
    shaped(
        status,
        json!({"error_code": "APIG.0308", "error_msg": THROTTLED_MESSAGE,
               "request_id": format!("{:032x}", rand::random::<u128>())}),
    )
}

fn shaped(status: StatusCode, body: serde_json::Value) -> Response {
    json_response(status, body.to_string())
}

/// The page a load balancer or a crashed backend sends: not JSON at all.
pub(crate) fn html_error(status: StatusCode) -> Response {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let body = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n\
         <center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    (status, [(header::CONTENT_TYPE, "text/html")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use codearts_testkit::exporter::ERROR_CLASSES;
    use std::collections::HashSet;

    #[test]
    fn each_repository_has_at_most_one_fault_within_the_demo() {
        let indices: HashSet<u32> = FAULTS.iter().map(|(index, _)| *index).collect();
        assert_eq!(indices.len(), FAULTS.len());
        assert!(indices
            .iter()
            .all(|&index| index < super::super::DEMO_REPOSITORIES));
    }

    #[test]
    fn faults_cover_every_class_an_http_server_can_cause() {
        let classes: HashSet<&str> = FAULTS.iter().map(|(_, f)| f.expected_class()).collect();
        // A server that answers, however badly, cannot make a connection fail.
        let expected = ERROR_CLASSES.iter().copied().filter(|c| *c != "connection");
        assert_eq!(classes, expected.collect());
    }

    #[tokio::test]
    async fn flaky_repositories_are_healthy_part_of_the_time() {
        let unavailable = Fault::UnavailableEveryOtherMinute;
        assert!(unavailable.answer(120).await.is_none());
        assert!(unavailable.answer(60).await.is_some());
        let throttled = Fault::ThrottledPartOfEachMinute;
        assert!(throttled.answer(125).await.is_some());
        assert!(throttled.answer(145).await.is_none());
    }
}
