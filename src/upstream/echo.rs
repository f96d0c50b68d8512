//! Secrets an error answer may echo back. On a signature mismatch the API gateway's `error_msg`
//! carries its own canonical request (newlines written as `|`), and with it the value of every
//! signed header: with temporary credentials that is the security token. Messages are cleaned
//! here before anything can log or show them.

use std::borrow::Cow;

/// Headers whose echoed value is a credential. Names are matched in any case.
const SECRET_HEADERS: [&str; 2] = ["x-security-token:", "x-auth-token:"];

/// `text` with the value after each secret header name replaced by `<redacted>`. A value ends
/// at `|`, a quote, a comma or white space, or the end of the text.
pub(crate) fn redact_echoed_secrets(text: &str) -> Cow<'_, str> {
    let lower = text.to_ascii_lowercase();
    if !SECRET_HEADERS.iter().any(|name| lower.contains(name)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < text.len() {
        let next = SECRET_HEADERS
            .iter()
            .filter_map(|name| lower[at..].find(name).map(|i| (at + i, name.len())))
            .min();
        let Some((start, name_len)) = next else {
            break;
        };
        let value_start = start + name_len;
        let value_end = text[value_start..]
            .find(|c: char| c == '|' || c == '"' || c == ',' || c.is_whitespace())
            .map_or(text.len(), |i| value_start + i);
        out.push_str(&text[at..value_start]);
        if value_end > value_start {
            out.push_str("<redacted>");
        }
        at = value_end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echoed_canonical_request_loses_the_security_token() {
        let msg = "Incorrect IAM authentication information: verify aksk signature fail, \
                   canonicalRequest:GET|/v4/x/||host:h|x-sdk-date:20250604T081429Z|X-Security-Token:SIMSTSabc123|\
                   |host;x-sdk-date;x-security-token|e3b0";
        let clean = redact_echoed_secrets(msg);
        assert!(!clean.contains("SIMSTSabc123"), "{clean}");
        assert!(clean.contains("X-Security-Token:<redacted>|"), "{clean}");
        assert!(clean.contains("x-sdk-date:20250604T081429Z"), "{clean}");
        assert!(clean.ends_with("|host;x-sdk-date;x-security-token|e3b0"));
    }

    #[test]
    fn a_token_at_the_end_and_an_auth_token_are_redacted_too() {
        assert_eq!(
            redact_echoed_secrets("x-auth-token:MIIabc x-security-token:xyz"),
            "x-auth-token:<redacted> x-security-token:<redacted>"
        );
    }

    #[test]
    fn other_text_is_left_alone() {
        let msg = "The throttling threshold has been reached";
        assert!(matches!(redact_echoed_secrets(msg), Cow::Borrowed(_)));
        assert_eq!(
            redact_echoed_secrets("héllo x-security-token:"),
            "héllo x-security-token:"
        );
    }
}
