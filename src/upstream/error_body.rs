//! What an error answer says: its code and message, read the way the official SDK's
//! `DefaultExceptionHandler` reads them, so our logs and classes agree with what a Huawei Cloud
//! SDK user sees (docs/upstream-api.md, "Errors").
//!
//! In order: the pair `error_code`/`error_msg` at the top level, else `errorCode`/`errorMsg`,
//! else `code`/`message` — a pair counts only when both of its keys are present. Without a pair
//! at the top level, every object value is searched the same way, at any depth, in document
//! order, and a later match replaces an earlier one (the SDK walks on after a match). Values of
//! any JSON type are taken as text (`"error_code": 401` is `"401"`). A body that is not a JSON
//! object keeps its first line, bounded, as the message, as the SDK keeps the raw text.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::echo::redact_echoed_secrets;

/// The key pairs the SDK looks for, in its order.
const PAIRS: [(&str, &str); 3] = [
    ("error_code", "error_msg"),
    ("errorCode", "errorMsg"),
    ("code", "message"),
];

/// How much of a non-JSON body is kept as the message (an HTML error page can be large).
const MAX_RAW_MESSAGE: usize = 200;

/// How deep nested objects are searched: far beyond any real answer, and a bound on the work a
/// hostile body can cause.
const MAX_DEPTH: usize = 32;

/// An error body's code and message; `None` where the body had none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiErrorBody {
    pub error_code: Option<String>,
    pub error_msg: Option<String>,
}

impl ApiErrorBody {
    /// Reads `body`; never fails. A credential the message echoes is redacted
    /// ([`redact_echoed_secrets`]).
    pub fn parse(body: &[u8]) -> Self {
        let mut found = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => {
                let mut found = Self::default();
                search(&object, 0, &mut found);
                found
            }
            _ => Self {
                error_code: None,
                error_msg: raw_message(body),
            },
        };
        if let Some(msg) = &mut found.error_msg {
            if let Cow::Owned(clean) = redact_echoed_secrets(msg) {
                *msg = clean;
            }
        }
        found
    }
}

/// Looks for a pair in `object`, else in its object values; the last match found wins.
fn search(object: &Map<String, Value>, depth: usize, found: &mut ApiErrorBody) {
    for (code_key, msg_key) in PAIRS {
        if let (Some(code), Some(msg)) = (object.get(code_key), object.get(msg_key)) {
            found.error_code = text(code);
            found.error_msg = text(msg);
            return;
        }
    }
    if depth >= MAX_DEPTH {
        return;
    }
    for value in object.values() {
        if let Value::Object(nested) = value {
            search(nested, depth + 1, found);
        }
    }
}

/// A JSON value as text: strings as they are, other scalars as written, null as nothing.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

/// The first line of a body that is not a JSON object, bounded; `None` when empty.
fn raw_message(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().map(str::trim).find(|line| !line.is_empty())?;
    Some(line[..line.floor_char_boundary(MAX_RAW_MESSAGE)].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(body: &str) -> (Option<String>, Option<String>) {
        let error = ApiErrorBody::parse(body.as_bytes());
        (error.error_code, error.error_msg)
    }

    fn pair(code: &str, msg: &str) -> (Option<String>, Option<String>) {
        (Some(code.to_owned()), Some(msg.to_owned()))
    }

    #[test]
    fn reads_the_v4_pair() {
        assert_eq!(
            parsed(r#"{"error_code":"APIG.0308","error_msg":"slow down"}"#),
            pair("APIG.0308", "slow down")
        );
    }

    #[test]
    fn reads_the_camel_case_pair() {
        assert_eq!(
            parsed(r#"{"errorCode":"CH.004403","errorMsg":"no permission"}"#),
            pair("CH.004403", "no permission")
        );
    }

    #[test]
    fn reads_code_and_message_nested_under_error() {
        assert_eq!(
            parsed(
                r#"{"error":{"code":"DEV.CH.10001","message":"Param invalid"},"status":"failed"}"#
            ),
            pair("DEV.CH.10001", "Param invalid")
        );
    }

    #[test]
    fn the_top_level_pairs_go_in_the_sdks_order() {
        assert_eq!(
            parsed(
                r#"{"code":"C","message":"c","errorCode":"B","errorMsg":"b","error_code":"A","error_msg":"a"}"#
            ),
            pair("A", "a")
        );
        assert_eq!(
            parsed(r#"{"code":"C","message":"c","errorCode":"B","errorMsg":"b"}"#),
            pair("B", "b")
        );
    }

    #[test]
    fn a_pair_counts_only_with_both_keys() {
        assert_eq!(
            parsed(r#"{"error_code":"APIG.0308","detail":{"code":"X","message":"x"}}"#),
            pair("X", "x")
        );
        assert_eq!(parsed(r#"{"error_code":"APIG.0308"}"#), (None, None));
    }

    #[test]
    fn nested_objects_are_searched_at_any_depth_and_the_last_match_wins() {
        assert_eq!(
            parsed(
                r#"{"outer":{"inner":{"deeper":{"error_code":"APIGW.0308","error_msg":"deep"}}}}"#
            ),
            pair("APIGW.0308", "deep")
        );
        assert_eq!(
            parsed(
                r#"{"a":{"code":"FIRST","message":"1"},"b":{"error_code":"SECOND","error_msg":"2"}}"#
            ),
            pair("SECOND", "2")
        );
    }

    #[test]
    fn codes_of_any_type_become_text() {
        assert_eq!(
            parsed(r#"{"error_code":401,"error_msg":"expired"}"#),
            pair("401", "expired")
        );
        assert_eq!(
            parsed(r#"{"code":true,"message":null}"#),
            (Some("true".to_owned()), None)
        );
    }

    #[test]
    fn a_body_that_is_not_a_json_object_keeps_its_first_line_as_the_message() {
        assert_eq!(
            parsed("\n<html>502 Bad Gateway</html>\nmore"),
            (None, Some("<html>502 Bad Gateway</html>".to_owned()))
        );
        assert_eq!(parsed(""), (None, None));
        assert_eq!(parsed("[1,2]"), (None, Some("[1,2]".to_owned())));
        let long = "é".repeat(500);
        let message = ApiErrorBody::parse(long.as_bytes()).error_msg.unwrap();
        assert!(message.len() <= MAX_RAW_MESSAGE);
    }

    #[test]
    fn a_hostile_nesting_depth_is_bounded() {
        let body = format!(
            "{}{}",
            r#"{"a":"#.repeat(100),
            "1".to_owned() + &"}".repeat(100)
        );
        assert_eq!(parsed(&body), (None, None));
    }
}
