//! The time format of Huawei Cloud answers: RFC 3339 with any offset and optional fractional
//! seconds (`2025-06-04T16:14:29+08:00`, IAM's `2020-01-04T09:08:49.965000Z`); and how far in
//! the future such a time may lie.

use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// How far a time from the API may lie in the future of our clock and still be believed: clocks
/// drift, but a push an hour from now is a broken answer, not news.
const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// Whether a time from the API (Unix seconds) is believable at `now_unix`: not further in the
/// future than [`CLOCK_SKEW`].
pub(crate) fn believable(at: f64, now_unix: f64) -> bool {
    at <= now_unix + CLOCK_SKEW.as_secs_f64()
}

/// Parses an RFC 3339 time with any offset and optional fractional seconds; `None` otherwise.
pub(crate) fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_with_any_offset_and_fraction() {
        let utc = parse_time("2025-06-04T08:14:29Z").unwrap();
        assert_eq!(parse_time("2025-06-04T16:14:29+08:00"), Some(utc));
        assert_eq!(
            parse_time("2025-06-04T08:14:29.965000Z")
                .unwrap()
                .unix_timestamp(),
            utc.unix_timestamp()
        );
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2025-06-04 16:14:29"), None);
    }
}
