//! Change-driven refresh: whether a repository is asked again, or its last answer shown as it
//! is — a pure function of what is known of it, with the reason either way (for the metrics an
//! operator trusts it by). docs/operations.md, "Change-driven refresh", has the rules and the
//! trade-off.

use std::time::Duration;

use tokio::time::Instant;

use crate::client::{ListedTimes, StatisticsStatus};
use crate::config::{ChangeDriven, RepositoryId};
use crate::upstream::ErrorClass;

/// Why a repository is asked (label values of `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum AskReason {
    /// Never asked since the exporter started (or since it joined the watch list).
    NeverAsked,
    /// Its last request failed.
    Failed,
    /// Its last answer may still change by itself: a run not finished, a failed run, no event,
    /// `can_statistics` false.
    Unsettled,
    /// Its listed update time moved since it was asked.
    Changed,
    /// Its answer is as old as `refresh.max_staleness` allows.
    Stale,
    /// No listing returned it (a configured id the credential cannot list, say).
    Unlisted,
    /// Listed, but with neither time readable.
    NoListedTime,
    /// The look at the list before this fan-out failed: nothing is known to be unchanged.
    ListingFailed,
}

impl AskReason {
    pub(crate) fn as_label(self) -> &'static str {
        match self {
            AskReason::NeverAsked => "never_asked",
            AskReason::Failed => "failed",
            AskReason::Unsettled => "unsettled",
            AskReason::Changed => "changed",
            AskReason::Stale => "stale",
            AskReason::Unlisted => "unlisted",
            AskReason::NoListedTime => "no_listed_time",
            AskReason::ListingFailed => "listing_failed",
        }
    }
}

/// What is known of a repository's last answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LastAnswer<'a> {
    pub status: Result<&'a StatisticsStatus, ErrorClass>,
    /// When it came.
    pub at: Instant,
    /// The listed change time when it was asked (`None`: not listed then, or before any look).
    pub listed_when_asked: Option<f64>,
}

/// Whether a status may change by itself, without git activity: only a finished run with
/// `can_statistics` true is settled.
pub(crate) fn settled(status: &StatisticsStatus) -> bool {
    status.can_statistics == Some(true)
        && status
            .event
            .as_ref()
            .and_then(|event| event.status.as_deref())
            .is_some_and(|status| status.trim() == "finish")
}

/// Whether to ask for a repository's statistics status in this fan-out, and why; `None` when
/// its last answer stands (the request is saved).
///
/// `listed` is the repository's entry in the listed times (`None`: no listing returned it);
/// `look_ok` whether the look at the list before this fan-out succeeded; `shown_by` when the
/// scrape that started the fan-out shows what it has (its deadline): an answer kept now is
/// shown that much older, and must not be older than `max_staleness` then.
pub(crate) fn status_due(
    id: RepositoryId,
    last: Option<LastAnswer<'_>>,
    listed: Option<&ListedTimes>,
    look_ok: bool,
    settings: &ChangeDriven,
    shown_by: Instant,
) -> Option<AskReason> {
    let Some(last) = last else {
        return Some(AskReason::NeverAsked);
    };
    let status = match last.status {
        Err(_) => return Some(AskReason::Failed),
        Ok(status) => status,
    };
    if !settled(status) {
        return Some(AskReason::Unsettled);
    }
    if !look_ok {
        return Some(AskReason::ListingFailed);
    }
    let Some(listed) = listed else {
        return Some(AskReason::Unlisted);
    };
    let Some(change) = listed.change() else {
        return Some(AskReason::NoListedTime);
    };
    if last.listed_when_asked.is_none_or(|asked| change > asked) {
        return Some(AskReason::Changed);
    }
    if shown_by.saturating_duration_since(last.at) >= staleness(id, settings.max_staleness) {
        return Some(AskReason::Stale);
    }
    None
}

/// The longest a repository's settled answer is kept: `max_staleness`, less up to a quarter of
/// it by a hash of the id. All answers come in the first fan-out; without the spread they would
/// all turn stale in one scrape, again and again.
pub(crate) fn staleness(id: RepositoryId, max_staleness: Duration) -> Duration {
    let spread = (mix(u64::from(id.get())) >> 11) as f64 / (1u64 << 53) as f64;
    max_staleness.mul_f64(1.0 - 0.25 * spread)
}

/// SplitMix64's finaliser: a cheap, well-spread hash of the id.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Whether to ask for a repository's last push in a change-driven fan-out (with
/// `last_push.source: request`), and why; `None` when the last one stands. The push time is the
/// listed `last_repository_updated_at`: a push moves it, so the request is made again only when
/// it moved, not on a timer. Without a listed time (unlisted, unreadable), the timer of
/// `last_push.min_interval` decides, as without change-driven refresh.
pub(crate) fn push_due(
    last: Option<(bool, Instant, Option<f64>)>,
    listed: Option<&ListedTimes>,
    look_ok: bool,
    min_interval: Duration,
    now: Instant,
) -> Option<AskReason> {
    let Some((succeeded, at, listed_when_asked)) = last else {
        return Some(AskReason::NeverAsked);
    };
    if !succeeded {
        return Some(AskReason::Failed);
    }
    let timer = |reason| (now.saturating_duration_since(at) >= min_interval).then_some(reason);
    if !look_ok {
        return timer(AskReason::ListingFailed);
    }
    let Some(listed) = listed else {
        return timer(AskReason::Unlisted);
    };
    let Some(updated) = listed.updated else {
        return timer(AskReason::NoListedTime);
    };
    listed_when_asked
        .is_none_or(|asked| updated > asked)
        .then_some(AskReason::Changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::StatisticsEvent;

    const T: f64 = 1_780_000_000.0;

    fn settings() -> ChangeDriven {
        ChangeDriven {
            max_staleness: Duration::from_secs(3600),
            listing_overlap: Duration::from_secs(60),
            full_listing_interval: Duration::from_secs(1800),
        }
    }

    fn status(can: Option<bool>, event_status: Option<&str>) -> StatisticsStatus {
        StatisticsStatus {
            can_statistics: can,
            reason: Some(0),
            event: event_status.map(|s| StatisticsEvent {
                status: Some(s.to_owned()),
                ..Default::default()
            }),
        }
    }

    fn listed(updated: Option<f64>, active: Option<f64>) -> ListedTimes {
        ListedTimes { updated, active }
    }

    fn id() -> RepositoryId {
        RepositoryId::new(7).unwrap()
    }

    /// The decision for a settled answer `age` old, asked when the listed time was `asked`.
    fn due_for(
        answer: &StatisticsStatus,
        age: Duration,
        asked: Option<f64>,
        now_listed: Option<ListedTimes>,
        look_ok: bool,
    ) -> Option<AskReason> {
        let now = Instant::now() + Duration::from_secs(100_000);
        let last = LastAnswer {
            status: Ok(answer),
            at: now - age,
            listed_when_asked: asked,
        };
        status_due(
            id(),
            Some(last),
            now_listed.as_ref(),
            look_ok,
            &settings(),
            now,
        )
    }

    #[test]
    fn only_a_finished_run_that_may_start_again_is_settled() {
        assert!(settled(&status(Some(true), Some("finish"))));
        for unsettled in [
            status(Some(true), Some("waiting")),
            status(Some(true), Some("active")),
            status(Some(true), Some("failed")),
            status(Some(false), Some("finish")),
            status(None, Some("finish")),
            status(Some(true), None),
        ] {
            assert!(!settled(&unsettled), "{unsettled:?}");
        }
    }

    #[test]
    fn each_rule_asks_for_its_reason() {
        let minute = Duration::from_secs(60);
        let done = status(Some(true), Some("finish"));
        let now_listed = Some(listed(Some(T), Some(T + 5.0)));
        // Settled, listed time unmoved, young: the request is saved.
        assert_eq!(due_for(&done, minute, Some(T), now_listed, true), None);
        // 1. not settled.
        let running = status(Some(false), Some("active"));
        assert_eq!(
            due_for(&running, minute, Some(T), now_listed, true),
            Some(AskReason::Unsettled)
        );
        // 2. the listed update time moved.
        assert_eq!(
            due_for(&done, minute, Some(T - 1.0), now_listed, true),
            Some(AskReason::Changed)
        );
        // 3. the longest staleness passed.
        assert_eq!(
            due_for(&done, Duration::from_secs(3600), Some(T), now_listed, true),
            Some(AskReason::Stale)
        );
        // Never listed, or listed without a readable time: never skipped.
        assert_eq!(
            due_for(&done, minute, Some(T), None, true),
            Some(AskReason::Unlisted)
        );
        assert_eq!(
            due_for(&done, minute, Some(T), Some(listed(None, None)), true),
            Some(AskReason::NoListedTime)
        );
        // A failed look: nothing is known to be unchanged.
        assert_eq!(
            due_for(&done, minute, Some(T), now_listed, false),
            Some(AskReason::ListingFailed)
        );
        // Asked before any listing said its time: a listed time now is news.
        assert_eq!(
            due_for(&done, minute, None, now_listed, true),
            Some(AskReason::Changed)
        );
    }

    #[test]
    fn never_asked_and_failed_repositories_are_asked() {
        let now = Instant::now();
        let times = listed(Some(T), None);
        assert_eq!(
            status_due(id(), None, Some(&times), true, &settings(), now),
            Some(AskReason::NeverAsked)
        );
        let failed = LastAnswer {
            status: Err(ErrorClass::Forbidden),
            at: now,
            listed_when_asked: Some(T),
        };
        assert_eq!(
            status_due(id(), Some(failed), Some(&times), true, &settings(), now),
            Some(AskReason::Failed)
        );
    }

    #[test]
    fn an_answer_that_would_be_shown_older_than_the_longest_staleness_is_asked_now() {
        let done = status(Some(true), Some("finish"));
        let now = Instant::now() + Duration::from_secs(100_000);
        let times = listed(Some(T), None);
        let answered = |age: u64| LastAnswer {
            status: Ok(&done),
            at: now - Duration::from_secs(age),
            listed_when_asked: Some(T),
        };
        // Young enough now, but not by the time the scrape shows it, 20 s from now.
        let shown_by = now + Duration::from_secs(20);
        let due = |age| {
            status_due(
                id(),
                Some(answered(age)),
                Some(&times),
                true,
                &settings(),
                shown_by,
            )
        };
        assert_eq!(due(3590), Some(AskReason::Stale));
        assert_eq!(due(600), None);
    }

    #[test]
    fn the_content_time_drives_and_activity_counts_only_without_it() {
        let done = status(Some(true), Some("finish"));
        let minute = Duration::from_secs(60);
        // Activity alone moved (a comment, say): the content is what the statistics count.
        assert_eq!(
            due_for(
                &done,
                minute,
                Some(T),
                Some(listed(Some(T), Some(T + 600.0))),
                true
            ),
            None
        );
        // No content time: activity is all there is to follow.
        assert_eq!(
            due_for(
                &done,
                minute,
                Some(T),
                Some(listed(None, Some(T + 600.0))),
                true
            ),
            Some(AskReason::Changed)
        );
    }

    #[test]
    fn staleness_is_spread_over_the_last_quarter_and_never_exceeds_the_maximum() {
        let max = Duration::from_secs(3600);
        let values: Vec<Duration> = (1..=2000)
            .map(|n| staleness(RepositoryId::new(n).unwrap(), max))
            .collect();
        assert!(values.iter().all(|v| *v <= max && *v >= max.mul_f64(0.75)));
        let early = values.iter().filter(|v| **v < max.mul_f64(0.875)).count();
        assert!(
            (800..=1200).contains(&early),
            "{early} of 2000 in the first half of the spread"
        );
        assert_eq!(
            staleness(id(), max),
            staleness(id(), max),
            "the same for the same id"
        );
    }

    #[test]
    fn a_last_push_is_asked_again_when_its_listed_time_moved_not_on_a_timer() {
        let now = Instant::now() + Duration::from_secs(100_000);
        let hour = Duration::from_secs(3600);
        let ten_minutes = Duration::from_secs(600);
        let times = listed(Some(T), Some(T + 30.0));
        let asked_an_hour_ago = Some((true, now - hour, Some(T)));
        assert_eq!(
            push_due(asked_an_hour_ago, Some(&times), true, ten_minutes, now),
            None
        );
        let moved = listed(Some(T + 1.0), None);
        assert_eq!(
            push_due(asked_an_hour_ago, Some(&moved), true, ten_minutes, now),
            Some(AskReason::Changed)
        );
        assert_eq!(
            push_due(None, Some(&times), true, ten_minutes, now),
            Some(AskReason::NeverAsked)
        );
        assert_eq!(
            push_due(
                Some((false, now, Some(T))),
                Some(&times),
                true,
                ten_minutes,
                now
            ),
            Some(AskReason::Failed)
        );
        // No listed time: the timer, as without change-driven refresh.
        let recent = Some((true, now - Duration::from_secs(60), Some(T)));
        assert_eq!(push_due(recent, None, true, ten_minutes, now), None);
        assert_eq!(
            push_due(asked_an_hour_ago, None, true, ten_minutes, now),
            Some(AskReason::Unlisted)
        );
        assert_eq!(
            push_due(asked_an_hour_ago, Some(&times), false, ten_minutes, now),
            Some(AskReason::ListingFailed)
        );
    }
}
