//! The time budget of one scrape, from Prometheus' `X-Prometheus-Scrape-Timeout-Seconds`.

use std::time::Duration;

/// The header Prometheus sets on every scrape.
pub const SCRAPE_TIMEOUT_HEADER: &str = "x-prometheus-scrape-timeout-seconds";

/// How long a scrape may take: the header's value minus `offset`, capped by `max_duration`.
///
/// Without a usable header (absent, not a number, zero, negative) the budget is `max_duration`.
/// When `offset` would eat the whole header value, half of it is used instead, so a tiny
/// scrape timeout still gets an answer rather than none.
pub fn scrape_budget(header: Option<&str>, offset: Duration, max_duration: Duration) -> Duration {
    let Some(seconds) = header
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
    else {
        return max_duration;
    };
    let timeout = Duration::from_secs_f64(seconds.min(86_400.0));
    let budget = match timeout.checked_sub(offset) {
        Some(budget) if !budget.is_zero() => budget,
        _ => timeout / 2,
    };
    budget.min(max_duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFSET: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(30);

    #[test]
    fn header_minus_offset() {
        assert_eq!(
            scrape_budget(Some("10"), OFFSET, MAX),
            Duration::from_millis(9500)
        );
    }

    #[test]
    fn decimal_header() {
        assert_eq!(
            scrape_budget(Some("2.5"), OFFSET, MAX),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn absent_header_uses_max_duration() {
        assert_eq!(scrape_budget(None, OFFSET, MAX), MAX);
    }

    #[test]
    fn invalid_header_uses_max_duration() {
        assert_eq!(scrape_budget(Some("soon"), OFFSET, MAX), MAX);
        assert_eq!(scrape_budget(Some(""), OFFSET, MAX), MAX);
        assert_eq!(scrape_budget(Some("NaN"), OFFSET, MAX), MAX);
        assert_eq!(scrape_budget(Some("inf"), OFFSET, MAX), MAX);
    }

    #[test]
    fn negative_or_zero_header_uses_max_duration() {
        assert_eq!(scrape_budget(Some("-3"), OFFSET, MAX), MAX);
        assert_eq!(scrape_budget(Some("0"), OFFSET, MAX), MAX);
    }

    #[test]
    fn offset_larger_than_header_halves_the_header() {
        assert_eq!(
            scrape_budget(Some("0.4"), OFFSET, MAX),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn max_duration_caps_a_long_header() {
        assert_eq!(scrape_budget(Some("120"), OFFSET, MAX), MAX);
    }
}
