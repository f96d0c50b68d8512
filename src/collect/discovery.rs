//! Which repositories to watch: the static list, merged with those discovered through
//! `GET /v4/user/repositories`, cut down to this instance's shard.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::listing::{self, Flow, ListingError};
use crate::client::{CodeArtsClient, ListOrder, ListedTimes, RepositorySummary};
use crate::config::{
    DiscoveryConfig, IdMap, IdSet, Project, Repository, RepositoryId, Shard, MAX_NAME_LEN,
};

/// What discovery found last, kept across failed refreshes and reloads.
#[derive(Debug, Default, Clone)]
pub(crate) struct DiscoveryState {
    /// The last good list (before sharding).
    pub repositories: Arc<[Repository]>,
    pub last_success: Option<SystemTime>,
    pub last_error: Option<String>,
}

/// What one full listing found: the repositories discovery selects (with discovery on) and
/// every listed repository's change times (with change-driven refresh).
#[derive(Debug, Default)]
pub(crate) struct FullListing {
    pub repositories: Option<Vec<Repository>>,
    pub times: Option<IdMap<ListedTimes>>,
    /// The requests it took.
    pub pages: usize,
}

/// Lists every repository the credential can see, oldest first — archived ones too with
/// `archived: true`, which takes a second listing since the API leaves them out by default —
/// keeping those `discovery` selects (when given) and every entry's times (when `times`). Any
/// failed page fails the whole listing: a partial list would make repositories vanish from
/// `/metrics`, or look unlisted.
pub(crate) async fn list_all(
    client: &CodeArtsClient,
    discovery: Option<&DiscoveryConfig>,
    times: bool,
    request_budget: Duration,
) -> Result<FullListing, ListingError> {
    let mut selection = discovery.map(Selection::new);
    let mut found_times = times.then(IdMap::<ListedTimes>::default);
    let mut visit = |entries: Vec<RepositorySummary>| {
        if let Some(found) = found_times.as_mut() {
            found.extend(listing::times_of(&entries));
        }
        if let Some(selection) = selection.as_mut() {
            selection.add(entries);
        }
        Flow::Continue
    };
    let mut pages = listing::walk(
        client,
        ListOrder::Created,
        false,
        request_budget,
        &mut visit,
    )
    .await?;
    if discovery.is_some_and(|config| config.archived) {
        pages +=
            listing::walk(client, ListOrder::Created, true, request_budget, &mut visit).await?;
    }
    Ok(FullListing {
        repositories: selection.map(Selection::finish),
        times: found_times,
        pages,
    })
}

/// The repositories `config` selects: the full path (`namespace/path`, see
/// [`RepositorySummary::full_path`]) matches an `include` (any, when none is given) and no
/// `exclude`; archived ones only with `archived: true`; never those of a deleted CodeArts
/// project. Entries with an id outside the API's range are dropped; duplicates keep their first
/// occurrence. The full path is the `repository` label. (The listing selects page by page with
/// [`Selection`]; this is that over one list, for the tests.)
#[cfg(test)]
fn select(entries: Vec<RepositorySummary>, config: &DiscoveryConfig) -> Vec<Repository> {
    let mut selection = Selection::new(config);
    selection.add(entries);
    selection.finish()
}

/// [`select`] page by page, as a listing comes in.
///
/// Why not gather the whole listing first: each entry as the API sends it is about 0.4 KiB
/// (seven strings), a selected one under 0.1 KiB, and the repositories of one CodeArts project
/// share one [`Project`]. Discovering 100,000 repositories held 55 MiB at its peak and 50 MiB
/// after; this way 29 MiB and 23 MiB (BENCHMARKS.md, "Before and after").
struct Selection<'a> {
    config: &'a DiscoveryConfig,
    selected: Vec<Repository>,
    seen: IdSet,
    projects: HashMap<(Option<String>, Option<String>), Arc<Project>>,
    deleted: usize,
}

impl<'a> Selection<'a> {
    fn new(config: &'a DiscoveryConfig) -> Self {
        Self {
            config,
            selected: Vec::new(),
            seen: IdSet::default(),
            projects: HashMap::new(),
            deleted: 0,
        }
    }

    fn add(&mut self, entries: Vec<RepositorySummary>) {
        let config = self.config;
        for entry in entries {
            let Some(id) = entry.id.and_then(RepositoryId::new) else {
                continue;
            };
            if entry.project_is_delete == Some(true) {
                self.deleted += 1;
                continue;
            }
            if entry.archived == Some(true) && !config.archived {
                continue;
            }
            let path = entry.full_path();
            let text = path.as_deref().unwrap_or("");
            if !config.include.is_empty() && !config.include.iter().any(|re| re.is_match(text)) {
                continue;
            }
            if config.exclude.iter().any(|re| re.is_match(text)) {
                continue;
            }
            if !self.seen.insert(id) {
                continue;
            }
            let name = path.map(|p| Arc::from(&p[..p.floor_char_boundary(MAX_NAME_LEN)]));
            let project = (entry.project_name.is_some() || entry.project_id.is_some()).then(|| {
                self.projects
                    .entry((entry.project_name, entry.project_id))
                    .or_insert_with_key(|(name, id)| {
                        Arc::new(Project {
                            name: name.clone(),
                            id: id.clone(),
                        })
                    })
                    .clone()
            });
            self.selected.push(Repository { id, name, project });
        }
    }

    fn finish(self) -> Vec<Repository> {
        if self.deleted > 0 {
            tracing::debug!(
                repositories = self.deleted,
                "skipped repositories of deleted CodeArts projects"
            );
        }
        self.selected
    }
}

/// The watch list: static entries first (their `name` wins), then discovered ones not listed
/// statically, all cut to `shard`. Returns the list and how many came from each source.
pub(crate) fn merge(
    statics: &[Repository],
    discovered: &[Repository],
    shard: Shard,
) -> (Vec<Repository>, usize, usize) {
    let static_ids: IdSet = statics.iter().map(|r| r.id).collect();
    let listed: IdMap<&Repository> = discovered
        .iter()
        .filter(|r| static_ids.contains(&r.id))
        .map(|r| (r.id, r))
        .collect();
    let mine = |r: &&Repository| shard.owns(r.id);
    // A static entry keeps its name, and learns its project — and, without a name of its own,
    // its full path — when discovery lists it too.
    let from_static: Vec<Repository> = statics
        .iter()
        .filter(mine)
        .map(|r| {
            let listed = listed.get(&r.id);
            Repository {
                id: r.id,
                name: r
                    .name
                    .clone()
                    .or_else(|| listed.and_then(|l| l.name.clone())),
                project: listed.and_then(|l| l.project.clone()),
            }
        })
        .collect();
    let from_discovery: Vec<Repository> = discovered
        .iter()
        .filter(|r| !static_ids.contains(&r.id))
        .filter(mine)
        .cloned()
        .collect();
    let counts = (from_static.len(), from_discovery.len());
    let mut all = from_static;
    all.extend(from_discovery);
    (all, counts.0, counts.1)
}

/// FNV-1a, 64 bit, over the id written in decimal ASCII. Chosen because anyone can reproduce
/// it in a few lines of any language (or `python3 -c`), unlike a seeded hasher.
pub(crate) fn shard_hash(id: RepositoryId) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    id.to_string().bytes().fold(OFFSET_BASIS, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

impl Shard {
    /// Whether this shard watches `id`: `shard_hash(id) % count == index`.
    pub fn owns(&self, id: RepositoryId) -> bool {
        self.count <= 1 || shard_hash(id) % u64::from(self.count) == u64::from(self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn id(n: i64) -> RepositoryId {
        RepositoryId::new(n).unwrap()
    }

    /// A list entry as the API sends it: `path` under `namespace`, a display name that is not
    /// the path.
    fn entry(n: i64, full_path: &str, archived: bool) -> RepositorySummary {
        let (namespace, path) = full_path.rsplit_once('/').unwrap_or(("", full_path));
        RepositorySummary {
            id: Some(n),
            name: Some(format!("Display name {n}")),
            path: Some(path.into()),
            namespace: Some(namespace.into()),
            project_id: Some("0123456789abcdef0123456789abcdef".into()),
            project_name: Some("payments-project".into()),
            archived: Some(archived),
            ..Default::default()
        }
    }

    fn config(include: &[&str], exclude: &[&str], archived: bool) -> DiscoveryConfig {
        DiscoveryConfig {
            interval: std::time::Duration::from_secs(60),
            include: include.iter().map(|p| Regex::new(p).unwrap()).collect(),
            exclude: exclude.iter().map(|p| Regex::new(p).unwrap()).collect(),
            archived,
        }
    }

    #[test]
    fn include_exclude_and_archived_filter_the_list() {
        let entries = vec![
            entry(1, "payments/api", false),
            entry(2, "payments/api-archive", false),
            entry(3, "platform/gateway", false),
            entry(4, "payments/old", true),
        ];
        let ids = |list: Vec<Repository>| list.into_iter().map(|r| r.id.get()).collect::<Vec<_>>();
        assert_eq!(
            ids(select(
                entries.clone(),
                &config(&["^payments/"], &["-archive$"], false)
            )),
            [1]
        );
        assert_eq!(
            ids(select(entries.clone(), &config(&["^payments/"], &[], true))),
            [1, 2, 4]
        );
        assert_eq!(ids(select(entries, &config(&[], &[], false))), [1, 2, 3]);
    }

    #[test]
    fn discovered_names_are_the_full_path_not_the_display_name() {
        let list = select(
            vec![entry(5, "team/sub/repo", false)],
            &config(&[], &[], false),
        );
        assert_eq!(list[0].name.as_deref(), Some("team/sub/repo"));
        let project = list[0].project.as_deref().unwrap();
        assert_eq!(project.name.as_deref(), Some("payments-project"));
        assert_eq!(
            project.id.as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
    }

    #[test]
    fn repositories_of_one_project_share_it() {
        let list = select(
            vec![entry(1, "a/one", false), entry(2, "a/two", false)],
            &config(&[], &[], false),
        );
        let (one, two) = (list[0].project.as_ref(), list[1].project.as_ref());
        assert!(
            Arc::ptr_eq(one.unwrap(), two.unwrap()),
            "one project, one copy"
        );
    }

    #[test]
    fn group_filters_see_the_full_path() {
        let entries = vec![
            entry(1, "payments/core/api", false),
            entry(2, "web/api", false),
        ];
        let list = select(entries, &config(&["^payments/"], &[], false));
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].id.get(), 1);
    }

    #[test]
    fn repositories_of_deleted_projects_are_never_watched() {
        let mut deleted = entry(7, "qa/e2e", false);
        deleted.project_is_delete = Some(true);
        let list = select(
            vec![deleted, entry(8, "qa/load", false)],
            &config(&["^qa/"], &[], true),
        );
        assert_eq!(list.iter().map(|r| r.id.get()).collect::<Vec<_>>(), [8]);
    }

    #[test]
    fn invalid_and_duplicate_ids_are_dropped() {
        let list = select(
            vec![
                entry(0, "a/zero", false),
                entry(6, "a/b", false),
                entry(6, "a/b", false),
            ],
            &config(&[], &[], false),
        );
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn static_names_win_over_discovered_ones() {
        let statics = vec![Repository::new(id(1), Some(Arc::from("custom")))];
        let discovered = vec![
            Repository {
                project: Some(Arc::new(Project {
                    name: Some("team".into()),
                    id: None,
                })),
                ..Repository::new(id(1), Some(Arc::from("team/one")))
            },
            Repository::new(id(2), Some(Arc::from("team/two"))),
        ];
        let (all, n_static, n_discovered) = merge(&statics, &discovered, Shard::default());
        assert_eq!((n_static, n_discovered), (1, 1));
        assert_eq!(all[0].name.as_deref(), Some("custom"));
        assert_eq!(
            all[0].project.as_ref().and_then(|p| p.name.as_deref()),
            Some("team"),
            "a static entry learns its project from discovery"
        );
        assert_eq!(all[1].name.as_deref(), Some("team/two"));
    }

    #[test]
    fn a_static_entry_without_a_name_takes_its_full_path_from_discovery() {
        let statics = vec![Repository::new(id(1), None), Repository::new(id(3), None)];
        let discovered = vec![Repository::new(id(1), Some(Arc::from("team/one")))];
        let (all, _, _) = merge(&statics, &discovered, Shard::default());
        assert_eq!(all[0].name.as_deref(), Some("team/one"));
        assert_eq!(all[1].name, None, "not listed: still no name");
    }

    #[test]
    fn shard_hash_is_fnv1a_64_of_the_decimal_id() {
        // The values `python3 -c` gives for FNV-1a 64 (docs/operations.md, "Scaling out"); a
        // change here reshuffles every sharded deployment.
        assert_eq!(shard_hash(id(1)), 0xaf63_ac4c_8601_9afc);
        assert_eq!(shard_hash(id(2_111_915_566)), 0x0e0b_7ac7_4e6e_854a);
        assert_eq!(shard_hash(id(42)), 0x07ee_7e07_b4b1_9223);
        assert!(Shard { index: 2, count: 4 }.owns(id(2_111_915_566)));
        assert!(Shard { index: 3, count: 4 }.owns(id(42)));
    }

    #[test]
    fn shards_split_ten_thousand_ids_evenly_and_exactly_once() {
        let count = 4;
        let mut sizes = [0usize; 4];
        for n in 1..=10_000 {
            let owners: Vec<u32> = (0..count)
                .filter(|index| {
                    Shard {
                        index: *index,
                        count,
                    }
                    .owns(id(n))
                })
                .collect();
            assert_eq!(owners.len(), 1, "id {n} has owners {owners:?}");
            sizes[owners[0] as usize] += 1;
        }
        for size in sizes {
            assert!(
                (2250..=2750).contains(&size),
                "{sizes:?} is not within 10% of 2500"
            );
        }
    }
}
