//! The time budget of one scrape, from the scrape timeout Prometheus gives (read by the HTTP
//! layer from its header).

use std::time::Duration;

/// How long a scrape may take: Prometheus' scrape timeout minus `offset`, capped by
/// `max_duration`.
///
/// Without a timeout the budget is `max_duration`. When `offset` would eat the whole timeout,
/// half of it is used instead, so a tiny scrape timeout still gets an answer rather than none.
pub(crate) fn scrape_budget(
    scrape_timeout: Option<Duration>,
    offset: Duration,
    max_duration: Duration,
) -> Duration {
    let Some(timeout) = scrape_timeout else {
        return max_duration;
    };
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

    fn seconds(s: f64) -> Option<Duration> {
        Some(Duration::from_secs_f64(s))
    }

    #[test]
    fn timeout_minus_offset() {
        assert_eq!(
            scrape_budget(seconds(10.0), OFFSET, MAX),
            Duration::from_millis(9500)
        );
    }

    #[test]
    fn decimal_timeout() {
        assert_eq!(
            scrape_budget(seconds(2.5), OFFSET, MAX),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn no_timeout_uses_max_duration() {
        assert_eq!(scrape_budget(None, OFFSET, MAX), MAX);
    }

    #[test]
    fn offset_larger_than_timeout_halves_the_timeout() {
        assert_eq!(
            scrape_budget(seconds(0.4), OFFSET, MAX),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn offset_equal_to_timeout_halves_the_timeout() {
        assert_eq!(
            scrape_budget(seconds(0.5), OFFSET, MAX),
            Duration::from_millis(250)
        );
    }

    #[test]
    fn max_duration_caps_a_long_timeout() {
        assert_eq!(scrape_budget(seconds(120.0), OFFSET, MAX), MAX);
    }
}
