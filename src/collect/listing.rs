//! Reading the repository list (`GET /v4/user/repositories`) page by page, and what it says
//! about change: each repository's listed update times, which change-driven refresh compares
//! with the times it asked at.
//!
//! Two ways of reading it: the whole list, oldest first (discovery's, every
//! `discovery.interval`: the safety net), and a look at the most recently updated entries before
//! a change-driven fan-out, which stops once the entries are older than the newest time the
//! previous look saw, minus `refresh.listing_overlap` (equal timestamps, and updates that reach
//! the list late). For a quiet fleet a look is one request.

use std::time::Duration;

use tokio::time::Instant;

use crate::client::{CodeArtsClient, ListOrder, ListedTimes, RepositorySummary};
use crate::config::{IdMap, RepositoryId};

/// The page size asked for. The API documents no maximum and may serve fewer (the paging stops
/// at an empty page, never at a short one).
pub(crate) const PAGE_LIMIT: usize = 100;
/// A bound on pages per listing, so a server that never ends the list cannot keep us paging
/// forever: a million repositories at 100 a page.
const MAX_PAGES: usize = 10_000;

/// Why a listing gave no usable answer. The last good one stays in use.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum ListingError {
    /// A page failed; the client's one-line account of it (class, HTTP status, error code,
    /// request id).
    #[error("{0}")]
    Page(String),
    #[error("listing repositories did not end after {MAX_PAGES} pages; refusing a truncated list")]
    Endless,
}

/// Whether a walk reads on after a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    Continue,
    Stop,
}

/// Reads one listing in `order` from its start, page by page, handing each non-empty page to
/// `visit`, until an empty page or until `visit` says [`Flow::Stop`]; returns how many pages it
/// read. Any failed page fails the walk: a partial list would make repositories vanish, or
/// changes go unseen.
pub(super) async fn walk(
    client: &CodeArtsClient,
    order: ListOrder,
    archived: bool,
    request_budget: Duration,
    mut visit: impl FnMut(Vec<RepositorySummary>) -> Flow,
) -> Result<usize, ListingError> {
    let mut listed = 0;
    for page in 0..MAX_PAGES {
        let deadline = Instant::now() + request_budget;
        let entries = client
            .user_repositories(listed, PAGE_LIMIT, order, archived, deadline)
            .await
            .map_err(ListingError::Page)?;
        if entries.is_empty() {
            return Ok(page + 1);
        }
        tracing::trace!(
            page,
            entries = entries.len(),
            archived,
            ?order,
            "listed a page"
        );
        listed += entries.len();
        if visit(entries) == Flow::Stop {
            return Ok(page + 1);
        }
    }
    Err(ListingError::Endless)
}

/// The listed times of a page's entries, by repository (entries without a usable id left out).
pub(super) fn times_of(
    entries: &[RepositorySummary],
) -> impl Iterator<Item = (RepositoryId, ListedTimes)> + '_ {
    entries.iter().filter_map(|entry| {
        let id = entry.id.and_then(RepositoryId::new)?;
        Some((id, entry.listed_times()))
    })
}

/// Where a look may stop: after the page whose last entry with a readable time is older than
/// `cutoff`. Entries without a readable time never stop it (nothing is known of them). The list
/// is newest first by one of the two times; an entry's later time bounds every entry after it.
pub(super) fn passed(entries: &[RepositorySummary], cutoff: f64) -> bool {
    entries
        .iter()
        .rev()
        .find_map(|entry| entry.listed_times().newest())
        .is_some_and(|newest| newest < cutoff)
}

/// Each repository's listed times, as the last listings said them.
#[derive(Debug, Default)]
pub(super) struct ListedTimesStore {
    times: IdMap<ListedTimes>,
    /// The newest time any listing saw, by the API's own clock — so that a look's cut-off does
    /// not depend on ours — but never more than `future_tolerance` past our clock: one absurd
    /// time must not make every later look stop at its first page.
    newest: Option<f64>,
    /// When the whole list was last read, by a walk to its end.
    full_at: Option<Instant>,
    /// Why the last look for changes failed, while it does (so the failure is logged once).
    pub(super) look_failing: Option<String>,
}

impl ListedTimesStore {
    /// A repository's listed times; `None` while no listing returned it.
    pub(super) fn get(&self, id: RepositoryId) -> Option<&ListedTimes> {
        self.times.get(&id)
    }

    /// The cut-off of the next look: `overlap` before the newest time seen; `None` before any
    /// listing (the look must then read the whole list).
    pub(super) fn cutoff(&self, overlap: Duration) -> Option<f64> {
        self.newest.map(|newest| newest - overlap.as_secs_f64())
    }

    /// Records what a look read: newer times replace older ones; repositories it did not reach
    /// keep theirs.
    pub(super) fn merge(&mut self, read: Vec<(RepositoryId, ListedTimes)>, now_unix: f64) {
        for (id, times) in read {
            self.raise_newest(&times, now_unix);
            self.times.insert(id, times);
        }
    }

    /// Records a whole list: a repository it lacks is no longer listed.
    pub(super) fn replace(&mut self, read: IdMap<ListedTimes>, now_unix: f64, at: Instant) {
        for times in read.values() {
            self.raise_newest(times, now_unix);
        }
        self.times = read;
        self.full_at = Some(at);
    }

    /// When the whole list was last read.
    pub(super) fn full_at(&self) -> Option<Instant> {
        self.full_at
    }

    fn raise_newest(&mut self, times: &ListedTimes, now_unix: f64) {
        let Some(newest) = times.newest() else { return };
        if !crate::upstream::believable(newest, now_unix) {
            return;
        }
        if self.newest.is_none_or(|known| newest > known) {
            self.newest = Some(newest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: f64 = 1_780_000_000.0;

    fn stamp(unix: f64) -> String {
        time::OffsetDateTime::from_unix_timestamp(unix as i64)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    }

    fn entry(id: i64, updated: Option<f64>, active: Option<f64>) -> RepositorySummary {
        RepositorySummary {
            id: Some(id),
            last_repository_updated_at: updated.map(stamp),
            last_activity_at: active.map(stamp),
            ..Default::default()
        }
    }

    fn id(n: i64) -> RepositoryId {
        RepositoryId::new(n).unwrap()
    }

    #[test]
    fn a_page_is_passed_when_its_last_readable_entry_is_older_than_the_cutoff() {
        let page = [
            entry(1, Some(T), None),
            entry(2, Some(T - 120.0), None),
            entry(3, None, None),
        ];
        assert!(
            passed(&page, T - 60.0),
            "the last readable entry is 2 minutes old"
        );
        assert!(
            !passed(&page, T - 120.0),
            "an entry equal to the cutoff may have a twin on the next page"
        );
        assert!(
            !passed(&page[2..], T),
            "a page of unreadable times never ends a look"
        );
    }

    #[test]
    fn the_later_of_the_two_times_decides_where_a_look_stops() {
        // Sorted by activity, an entry whose content is old may still be recent.
        let page = [entry(1, Some(T - 600.0), Some(T))];
        assert!(!passed(&page, T - 60.0));
    }

    #[test]
    fn the_cutoff_follows_the_newest_time_seen_less_the_overlap() {
        let mut store = ListedTimesStore::default();
        assert_eq!(
            store.cutoff(Duration::from_secs(60)),
            None,
            "no listing yet: read it all"
        );
        store.merge(
            vec![
                (
                    id(1),
                    ListedTimes {
                        updated: Some(T - 30.0),
                        active: Some(T),
                    },
                ),
                (
                    id(2),
                    ListedTimes {
                        updated: Some(T - 500.0),
                        active: None,
                    },
                ),
            ],
            T,
        );
        assert_eq!(store.cutoff(Duration::from_secs(60)), Some(T - 60.0));
        store.merge(
            vec![(
                id(3),
                ListedTimes {
                    updated: Some(T - 900.0),
                    active: None,
                },
            )],
            T,
        );
        assert_eq!(
            store.cutoff(Duration::from_secs(60)),
            Some(T - 60.0),
            "an older look never lowers it"
        );
    }

    #[test]
    fn a_time_far_in_the_future_does_not_move_the_cutoff() {
        let mut store = ListedTimesStore::default();
        store.merge(
            vec![
                (
                    id(1),
                    ListedTimes {
                        updated: Some(T + 86_400.0 * 365.0),
                        active: None,
                    },
                ),
                (
                    id(2),
                    ListedTimes {
                        updated: Some(T),
                        active: None,
                    },
                ),
            ],
            T,
        );
        assert_eq!(store.cutoff(Duration::ZERO), Some(T));
        assert!(store.get(id(1)).is_some(), "the entry is still known");
    }

    #[test]
    fn a_whole_list_forgets_repositories_it_lacks_and_a_look_does_not() {
        let mut store = ListedTimesStore::default();
        let at = Instant::now();
        let one = ListedTimes {
            updated: Some(T),
            active: None,
        };
        store.replace([(id(1), one), (id(2), one)].into_iter().collect(), T, at);
        store.merge(
            vec![(
                id(1),
                ListedTimes {
                    updated: Some(T + 5.0),
                    active: None,
                },
            )],
            T + 5.0,
        );
        assert_eq!(
            store.get(id(2)),
            Some(&one),
            "a look keeps what it did not reach"
        );
        store.replace([(id(1), one)].into_iter().collect(), T + 10.0, at);
        assert_eq!(
            store.get(id(2)),
            None,
            "a whole list without it: no longer listed"
        );
        assert_eq!(store.full_at(), Some(at));
    }
}
