//! `Answers::Scenarios`: one repository per edge case, with answers that never change, so that
//! the official SDK and the exporter can be compared on the very same bytes (the conformance
//! suite in `tests/conformance/`).
//!
//! Each scenario fixes the exact statistics-status answer (status, body) and the last-push
//! answer of its repository, `conformance/<name>`. Scenarios marked `lenient` are ill-typed on
//! purpose: the SDK converts their fields with `int(…)`, `str(…)`, `bool(…)`
//! (`huaweicloudsdkcore/client.py`, `_deserialize_primitive`) or drops unknown keys, and a
//! client must do the same. None of them sends `can_statistics` as the string `"false"`, which
//! the SDK would turn into `True` (`bool("false")`): a plainly wrong result no client should copy.
//! Error scenarios use every error-body shape the SDK reads
//! (`huaweicloudsdkcore/exceptions/exception_handler.py`): `error_code`/`error_msg`,
//! `errorCode`/`errorMsg`, `code`/`message`, nested objects at depth two and three, a numeric
//! code, and no JSON at all.
//!
//! `GET /-/scenarios` lists them (id, name, what they test) for the suite. Faults of
//! `faults.rs` do not apply in this mode, and the `repositories` setting is ignored.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};

use super::catalog::SimRepository;
use super::last_push;
use super::routes::json_response;
use super::FIRST_ID;

/// One edge case.
pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    /// Ill-typed on purpose, or carrying keys the SDK's model does not have.
    pub(crate) lenient: bool,
    pub(crate) status: Status,
    pub(crate) push: Push,
}

/// The statistics-status answer. `{ID}` in a body stands for the repository id.
pub(crate) enum Status {
    /// 200 with this JSON body (and `X-Total: 1`).
    Ok(&'static str),
    /// 200 with a body the SDK cannot read as an object.
    Invalid(&'static str),
    /// This status with this JSON error body, and the error class a client must report.
    Error(u16, &'static str, &'static str),
    /// This status with an HTML page, as from a load balancer.
    Html(u16),
}

/// The last-push answer.
pub(crate) enum Push {
    /// 200 with `ref` and `created_at` (which may be malformed or in the future on purpose).
    At(&'static str, &'static str),
    /// 200 with the repository brief alone.
    NeverBriefOnly,
    /// 200 with `{}`.
    NeverEmpty,
    /// 200 with `ref` and `created_at` set to `null`.
    NeverNulls,
    /// This status with a v4 error body.
    Fails(u16, &'static str),
}

const EVENT_UPDATED: &str = "2025-06-04T16:16:44+08:00";
const PUSHED_AFTER: Push = Push::At("master", "2025-06-04T18:02:11+08:00");
const PUSHED_BEFORE: Push = Push::At("master", "2025-06-04T12:40:03+08:00");

/// An answer with every field well typed, created at 16:14:29 and updated at [`EVENT_UPDATED`].
macro_rules! well_typed {
    (can: $can:literal, reason: $reason:literal, status: $status:literal) => {
        concat!(
            r#"{"can_statistics":"#, $can, r#","reason":"#, $reason,
            r#","event":{"id":18231,"user_id":8412115,"project_id":{ID},"branch":"master","status":""#,
            $status,
            r#"","stat_date":"20250604","created_at":"2025-06-04T16:14:29+08:00","updated_at":"2025-06-04T16:16:44+08:00"}}"#
        )
    };
}

pub(crate) const SCENARIOS: [Scenario; 32] = [
    Scenario {
        name: "finish",
        lenient: false,
        status: Status::Ok(well_typed!(can: "true", reason: "0", status: "finish")),
        push: PUSHED_AFTER,
    },
    Scenario {
        name: "waiting",
        lenient: false,
        status: Status::Ok(well_typed!(can: "false", reason: "0", status: "waiting")),
        push: PUSHED_BEFORE,
    },
    Scenario {
        name: "active",
        lenient: false,
        status: Status::Ok(well_typed!(can: "false", reason: "0", status: "active")),
        // Exactly when the statistics were last updated: no lag.
        push: Push::At("develop", EVENT_UPDATED),
    },
    Scenario {
        name: "failed",
        lenient: false,
        status: Status::Ok(well_typed!(can: "true", reason: "0", status: "failed")),
        // The same instant as the event's updated_at, written in UTC.
        push: Push::At("master", "2025-06-04T08:16:44Z"),
    },
    Scenario {
        name: "reason-repository-quota",
        lenient: false,
        status: Status::Ok(well_typed!(can: "false", reason: "1", status: "finish")),
        push: Push::At("v2.0.0", "2025-06-05T09:00:00+08:00"),
    },
    Scenario {
        name: "reason-user-quota",
        lenient: false,
        status: Status::Ok(well_typed!(can: "false", reason: "2", status: "finish")),
        push: Push::Fails(403, "CH.004403"),
    },
    Scenario {
        name: "reason-both-quotas",
        lenient: false,
        status: Status::Ok(well_typed!(can: "false", reason: "3", status: "finish")),
        push: Push::Fails(500, "CH.00000001"),
    },
    Scenario {
        name: "no-event",
        lenient: false,
        status: Status::Ok(r#"{"can_statistics":true,"reason":0}"#),
        push: PUSHED_AFTER,
    },
    Scenario {
        name: "null-event",
        lenient: false,
        status: Status::Ok(r#"{"can_statistics":true,"reason":0,"event":null}"#),
        push: Push::NeverBriefOnly,
    },
    Scenario {
        name: "empty-event",
        lenient: false,
        status: Status::Ok(r#"{"can_statistics":true,"reason":0,"event":{}}"#),
        push: Push::NeverEmpty,
    },
    Scenario {
        name: "empty-answer",
        lenient: false,
        status: Status::Ok("{}"),
        push: Push::NeverNulls,
    },
    Scenario {
        name: "times-utc",
        lenient: false,
        status: Status::Ok(
            r#"{"can_statistics":true,"reason":0,"event":{"id":18232,"user_id":8412115,"project_id":{ID},"branch":"main","status":"finish","stat_date":"20250604","created_at":"2025-06-04T08:14:29Z","updated_at":"2025-06-04T08:16:44.123456Z"}}"#,
        ),
        // Not a time at all.
        push: Push::At("main", "yesterday"),
    },
    Scenario {
        name: "times-fraction",
        lenient: false,
        status: Status::Ok(
            r#"{"can_statistics":true,"reason":0,"event":{"id":18233,"user_id":8412115,"project_id":{ID},"branch":"main","status":"finish","stat_date":"20250604","created_at":"2025-06-04T16:14:29.5+08:00","updated_at":"2025-06-04T16:16:44.250+08:00"}}"#,
        ),
        // In the future.
        push: Push::At("main", "2099-01-01T00:00:00+08:00"),
    },
    Scenario {
        name: "branch-escapes",
        lenient: false,
        status: Status::Ok(
            r#"{"can_statistics":true,"reason":0,"event":{"id":18234,"user_id":8412115,"project_id":{ID},"branch":"feature/\"quoted\"-测试","status":"finish","stat_date":"20250604","created_at":"2025-06-04T16:14:29+08:00","updated_at":"2025-06-04T16:16:44+08:00"}}"#,
        ),
        push: PUSHED_AFTER,
    },
    Scenario {
        name: "status-number",
        lenient: true,
        status: Status::Ok(
            r#"{"can_statistics":false,"reason":0,"event":{"id":18235,"user_id":8412115,"project_id":{ID},"branch":"master","status":0,"stat_date":"20250604","created_at":"2025-06-04T16:14:29+08:00","updated_at":"2025-06-04T16:16:44+08:00"}}"#,
        ),
        push: PUSHED_BEFORE,
    },
    Scenario {
        name: "ids-as-strings",
        lenient: true,
        status: Status::Ok(
            r#"{"can_statistics":true,"reason":0,"event":{"id":"18236","user_id":"8412115","project_id":"{ID}","branch":"master","status":"finish","stat_date":"20250604","created_at":"2025-06-04T16:14:29+08:00","updated_at":"2025-06-04T16:16:44+08:00"}}"#,
        ),
        push: PUSHED_AFTER,
    },
    Scenario {
        name: "can-statistics-string",
        lenient: true,
        status: Status::Ok(
            r#"{"can_statistics":"true","reason":0,"event":{"id":18237,"user_id":8412115,"project_id":{ID},"branch":"master","status":"finish","stat_date":"20250604","created_at":"2025-06-04T16:14:29+08:00","updated_at":"2025-06-04T16:16:44+08:00"}}"#,
        ),
        push: PUSHED_AFTER,
    },
    Scenario {
        name: "can-statistics-number",
        lenient: true,
        status: Status::Ok(
            r#"{"can_statistics":0,"reason":1,"event":{"id":18238,"user_id":8412115,"project_id":{ID},"branch":"master","status":"finish","stat_date":"20250604","created_at":"2025-06-04T16:14:29+08:00","updated_at":"2025-06-04T16:16:44+08:00"}}"#,
        ),
        push: PUSHED_BEFORE,
    },
    Scenario {
        name: "reason-string",
        lenient: true,
        status: Status::Ok(
            r#"{"can_statistics":false,"reason":"3","event":{"id":18239,"user_id":8412115,"project_id":{ID},"branch":"master","status":"finish","stat_date":"20250604","created_at":"2025-06-04T16:14:29+08:00","updated_at":"2025-06-04T16:16:44+08:00"}}"#,
        ),
        push: PUSHED_AFTER,
    },
    Scenario {
        name: "stat-date-number",
        lenient: true,
        status: Status::Ok(
            r#"{"can_statistics":true,"reason":0,"event":{"id":18240,"user_id":8412115,"project_id":{ID},"branch":"master","status":"finish","stat_date":20250604,"created_at":"2025-06-04T16:14:29+08:00","updated_at":"2025-06-04T16:16:44+08:00"}}"#,
        ),
        push: PUSHED_AFTER,
    },
    Scenario {
        name: "branch-number",
        lenient: true,
        status: Status::Ok(
            r#"{"can_statistics":true,"reason":0,"event":{"id":18241,"user_id":8412115,"project_id":{ID},"branch":2025,"status":"finish","stat_date":"20250604","created_at":"2025-06-04T16:14:29+08:00","updated_at":"2025-06-04T16:16:44+08:00"}}"#,
        ),
        push: PUSHED_AFTER,
    },
    Scenario {
        name: "unknown-fields",
        lenient: true,
        status: Status::Ok(
            r#"{"can_statistics":true,"reason":0,"trace":{"span":"a1"},"event":{"id":18242,"user_id":8412115,"project_id":{ID},"branch":"master","status":"finish","stat_date":"20250604","created_at":"2025-06-04T16:14:29+08:00","updated_at":"2025-06-04T16:16:44+08:00","duration_ms":5123}}"#,
        ),
        push: PUSHED_AFTER,
    },
    Scenario {
        name: "error-v4",
        lenient: false,
        status: Status::Error(
            403,
            r#"{"error_code":"CH.004403","error_msg":"Insufficient permissions. Apply for the required permissions and try again."}"#,
            "forbidden",
        ),
        push: PUSHED_AFTER,
    },
    Scenario {
        name: "error-camel-case",
        lenient: false,
        status: Status::Error(
            401,
            r#"{"errorCode":"DEV.00000003","errorMsg":"Authentication information expired."}"#,
            "unauthorized",
        ),
        push: PUSHED_AFTER,
    },
    Scenario {
        name: "error-code-message",
        lenient: false,
        status: Status::Error(
            404,
            r#"{"code":"CH.00402000","message":"The repository does not exist or you do not have permission to access it."}"#,
            "not_found",
        ),
        push: PUSHED_AFTER,
    },
    Scenario {
        name: "error-nested",
        lenient: false,
        status: Status::Error(
            400,
            r#"{"error":{"code":"CH.010001","message":"Invalid parameter value format."},"status":"failed"}"#,
            "client_error",
        ),
        push: PUSHED_AFTER,
    },
    Scenario {
        name: "error-nested-deep-throttled",
        lenient: false,
        status: Status::Error(
            403,
            r#"{"status":"failed","result":{"error":{"error_code":"APIG.0308","error_msg":"The throttling threshold has been reached: policy user over ratelimit,limit:100,time:1 minute"}}}"#,
            "throttled",
        ),
        push: PUSHED_AFTER,
    },
    Scenario {
        name: "error-numeric-code",
        lenient: false,
        status: Status::Error(
            503,
            r#"{"error_code":503,"error_msg":"Service temporarily unavailable."}"#,
            "server_error",
        ),
        push: PUSHED_AFTER,
    },
    Scenario {
        name: "error-html",
        lenient: false,
        status: Status::Html(502),
        push: PUSHED_AFTER,
    },
    Scenario {
        name: "error-throttled-429",
        lenient: false,
        status: Status::Error(
            429,
            r#"{"error_code":"APIG.0308","error_msg":"The throttling threshold has been reached: policy user over ratelimit,limit:100,time:1 minute","request_id":"5d3a0b1c9e0f4a7b8c6d2e1f0a9b8c7d"}"#,
            "throttled",
        ),
        push: PUSHED_AFTER,
    },
    Scenario {
        name: "invalid-truncated-json",
        lenient: false,
        status: Status::Invalid(
            r#"{"can_statistics":true,"reason":0,"event":{"id":18243,"status":"fin"#,
        ),
        push: PUSHED_AFTER,
    },
    Scenario {
        name: "invalid-array",
        lenient: false,
        status: Status::Invalid(r#"[{"can_statistics":true,"reason":0}]"#),
        push: PUSHED_AFTER,
    },
];

impl Status {
    /// `ok`, `invalid` or `error`, as `GET /-/scenarios` says.
    fn kind(&self) -> &'static str {
        match self {
            Self::Ok(_) => "ok",
            Self::Invalid(_) => "invalid",
            Self::Error(..) | Self::Html(_) => "error",
        }
    }

    /// The error class a client must report, for answers that are not a good 200.
    fn class(&self) -> Option<&'static str> {
        match self {
            Self::Error(_, _, class) => Some(class),
            Self::Html(_) => Some("server_error"),
            Self::Invalid(_) => Some("invalid_response"),
            Self::Ok(_) => None,
        }
    }
}

fn scenario(index: u32) -> Option<&'static Scenario> {
    SCENARIOS.get(usize::try_from(index).ok()?)
}

/// The statistics-status answer of the scenario at `index`.
pub(crate) fn status(index: u32, id: u32) -> Response {
    let Some(scenario) = scenario(index) else {
        return super::routes::repository_not_found();
    };
    match scenario.status {
        Status::Ok(body) => {
            let mut response = json_response(StatusCode::OK, with_id(body, id));
            response
                .headers_mut()
                .insert("x-total", HeaderValue::from_static("1"));
            response
        }
        Status::Invalid(body) => json_response(StatusCode::OK, body.to_owned()),
        Status::Error(status, body, _) => json_response(code(status), body.to_owned()),
        Status::Html(status) => super::faults::html_error(code(status)),
    }
}

/// The 200 body of the scenario at `index` as JSON, or `Null` when it has none.
pub(crate) fn status_body(index: u32, id: u32) -> Value {
    match scenario(index).map(|s| &s.status) {
        Some(Status::Ok(body)) => serde_json::from_str(&with_id(body, id)).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// The last-push answer of the scenario repository at `index`.
pub(crate) fn last_push(repository: &SimRepository, index: u32) -> Response {
    let Some(scenario) = scenario(index) else {
        return super::routes::repository_not_found();
    };
    match scenario.push {
        Push::At(reference, created_at) => {
            last_push::ok(repository, Some((reference, created_at.to_owned())))
        }
        Push::NeverBriefOnly => last_push::ok(repository, None),
        Push::NeverEmpty => json_response(StatusCode::OK, "{}".to_owned()),
        Push::NeverNulls => json_response(
            StatusCode::OK,
            json!({"ref": null, "created_at": null, "repository": last_push::brief(repository)})
                .to_string(),
        ),
        Push::Fails(status, error_code) => super::routes::error_response(
            code(status),
            error_code,
            "The last push event could not be read.",
        ),
    }
}

/// What `GET /-/scenarios` says about one scenario.
#[derive(Serialize)]
struct Listed {
    id: u32,
    name: &'static str,
    lenient: bool,
    /// `ok`, `invalid` or `error`.
    kind: &'static str,
    /// For `error`: the error class a client must report.
    class: Option<&'static str>,
    /// `at`, `never` or `fails`.
    push: &'static str,
}

/// `GET /-/scenarios`: every scenario repository and what it tests; `[]` in other modes.
pub(crate) fn listing(scenarios_mode: bool) -> Response {
    let listed: Vec<Listed> = if scenarios_mode {
        SCENARIOS
            .iter()
            .zip(FIRST_ID..)
            .map(|(scenario, id)| Listed {
                id,
                name: scenario.name,
                lenient: scenario.lenient,
                kind: scenario.status.kind(),
                class: scenario.status.class(),
                push: match scenario.push {
                    Push::At(..) => "at",
                    Push::NeverBriefOnly | Push::NeverEmpty | Push::NeverNulls => "never",
                    Push::Fails(..) => "fails",
                },
            })
            .collect()
    } else {
        Vec::new()
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&listed).unwrap_or_else(|_| "[]".to_owned()),
    )
        .into_response()
}

fn with_id(body: &str, id: u32) -> String {
    body.replace("{ID}", &id.to_string())
}

fn code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use codearts_testkit::exporter::ERROR_CLASSES;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_every_body_but_the_invalid_ones_is_json() {
        let names: HashSet<&str> = SCENARIOS.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), SCENARIOS.len());
        for (index, scenario) in SCENARIOS.iter().enumerate() {
            match scenario.status {
                Status::Ok(body) => {
                    let parsed: Value = serde_json::from_str(&with_id(body, FIRST_ID)).unwrap();
                    assert!(parsed.is_object(), "{}", scenario.name);
                    assert_eq!(status_body(index as u32, FIRST_ID), parsed);
                }
                Status::Error(_, body, _) => {
                    assert!(serde_json::from_str::<Value>(body).unwrap().is_object());
                }
                Status::Invalid(body) => {
                    let parsed = serde_json::from_str::<Value>(body);
                    assert!(!parsed.is_ok_and(|v| v.is_object()), "{}", scenario.name);
                }
                Status::Html(_) => {}
            }
        }
    }

    #[test]
    fn the_well_typed_event_times_are_the_documented_ones() {
        let body = status_body(0, FIRST_ID);
        assert_eq!(body["event"]["created_at"], "2025-06-04T16:14:29+08:00");
        assert_eq!(body["event"]["updated_at"], EVENT_UPDATED);
        assert_eq!(body["event"]["project_id"], FIRST_ID);
    }

    #[test]
    fn no_scenario_sends_can_statistics_as_the_string_false() {
        for scenario in &SCENARIOS {
            if let Status::Ok(body) = scenario.status {
                assert!(
                    !body.contains(r#""can_statistics":"false""#),
                    "{}",
                    scenario.name
                );
            }
        }
    }

    #[test]
    fn every_error_class_an_http_answer_can_cause_has_a_scenario() {
        let classes: HashSet<&str> = SCENARIOS.iter().filter_map(|s| s.status.class()).collect();
        // A timeout and a failed connection are no answer at all.
        for class in ERROR_CLASSES
            .iter()
            .filter(|c| !["timeout", "connection"].contains(c))
        {
            assert!(classes.contains(class), "{class}");
        }
    }
}
