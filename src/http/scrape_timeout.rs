//! Prometheus' scrape timeout, as it sends it with every scrape: the
//! `X-Prometheus-Scrape-Timeout-Seconds` header, in seconds, with a fraction or without. What
//! the timeout leaves for the fan-out (the offset, the cap) is `collect::deadline`'s business.

use std::time::Duration;

use axum::http::HeaderMap;

/// The header Prometheus sets on every scrape.
pub(crate) const SCRAPE_TIMEOUT_HEADER: &str = "x-prometheus-scrape-timeout-seconds";

/// The longest timeout taken from the header; a larger value is read as this.
const LONGEST: f64 = 86_400.0;

/// The scrape timeout the request's header gives, or `None` when it gives none that can be
/// used: absent, not a number, not finite, zero or negative.
pub(crate) fn scrape_timeout(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(SCRAPE_TIMEOUT_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(parse)
}

fn parse(text: &str) -> Option<Duration> {
    let seconds = text
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0)?;
    Some(Duration::from_secs_f64(seconds.min(LONGEST)))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn timeout_of(value: &[u8]) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(
            SCRAPE_TIMEOUT_HEADER,
            HeaderValue::from_bytes(value).unwrap(),
        );
        scrape_timeout(&headers)
    }

    #[test]
    fn reads_whole_and_decimal_seconds() {
        assert_eq!(timeout_of(b"10"), Some(Duration::from_secs(10)));
        assert_eq!(timeout_of(b"2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(timeout_of(b" 4 "), Some(Duration::from_secs(4)));
    }

    #[test]
    fn an_absent_header_gives_none() {
        assert_eq!(scrape_timeout(&HeaderMap::new()), None);
    }

    #[test]
    fn an_invalid_header_gives_none() {
        for value in [&b"soon"[..], b"", b"NaN", b"inf", b"1e999", b"10s", b"\xff"] {
            assert_eq!(timeout_of(value), None, "{value:?}");
        }
    }

    #[test]
    fn a_negative_or_zero_header_gives_none() {
        assert_eq!(timeout_of(b"-3"), None);
        assert_eq!(timeout_of(b"0"), None);
        assert_eq!(timeout_of(b"-0.0"), None);
    }

    #[test]
    fn a_timeout_longer_than_a_day_is_read_as_a_day() {
        assert_eq!(timeout_of(b"1e9"), Some(Duration::from_secs(86_400)));
    }
}
