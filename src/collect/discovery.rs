//! Which repositories to watch: the static list, merged with those discovered through
//! `GET /v4/user/repositories`, cut down to this instance's shard.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::time::Instant;

use crate::client::{CodeArtsClient, RepositorySummary};
use crate::config::{DiscoveryConfig, Repository, RepositoryId, Shard, MAX_NAME_LEN};

/// What discovery found last, kept across failed refreshes and reloads.
#[derive(Debug, Default, Clone)]
pub struct DiscoveryState {
    /// The last good list (before sharding).
    pub repositories: Arc<[Repository]>,
    pub last_success: Option<SystemTime>,
    pub last_error: Option<String>,
}

/// The page size: the API's maximum (reference §3.1).
pub const PAGE_LIMIT: usize = 100;
/// A bound on pages, so a server that never ends the list cannot keep us paging forever
/// (100,000 repositories).
const MAX_PAGES: usize = 1_000;

/// Lists every repository the credential can see, page by page, and keeps those the config
/// selects. Any failed page fails the whole refresh: a partial list would make repositories
/// vanish from `/metrics`.
pub async fn discover(
    client: &CodeArtsClient,
    config: &DiscoveryConfig,
    request_budget: std::time::Duration,
) -> Result<Vec<Repository>, String> {
    let mut found = Vec::new();
    for page in 0..MAX_PAGES {
        let deadline = Instant::now() + request_budget;
        let entries = client
            .user_repositories(page * PAGE_LIMIT, PAGE_LIMIT, deadline)
            .await?;
        let last = entries.len() < PAGE_LIMIT;
        found.extend(entries);
        if last {
            return Ok(select(found, config));
        }
    }
    Err(format!(
        "listing repositories did not end after {MAX_PAGES} pages; refusing a truncated list"
    ))
}

/// The repositories `config` selects: `path_with_namespace` matches an `include` (any, when
/// none is given) and no `exclude`; archived ones only with `archived: true`. Entries with an
/// id outside the API's range are dropped; duplicates keep their first occurrence.
pub fn select(entries: Vec<RepositorySummary>, config: &DiscoveryConfig) -> Vec<Repository> {
    let mut seen = HashSet::new();
    entries
        .into_iter()
        .filter_map(|entry| {
            let id = RepositoryId::new(entry.id)?;
            if entry.archived == Some(true) && !config.archived {
                return None;
            }
            let path = entry
                .path_with_namespace
                .or(entry.name)
                .filter(|p| !p.is_empty());
            let text = path.as_deref().unwrap_or("");
            if !config.include.is_empty() && !config.include.iter().any(|re| re.is_match(text)) {
                return None;
            }
            if config.exclude.iter().any(|re| re.is_match(text)) {
                return None;
            }
            if !seen.insert(id) {
                return None;
            }
            let name = path.map(|p| Arc::from(&p[..p.floor_char_boundary(MAX_NAME_LEN)]));
            Some(Repository { id, name })
        })
        .collect()
}

/// The watch list: static entries first (their `name` wins), then discovered ones not listed
/// statically, all cut to `shard`. Returns the list and how many came from each source.
pub fn merge(
    statics: &[Repository],
    discovered: &[Repository],
    shard: Shard,
) -> (Vec<Repository>, usize, usize) {
    let static_ids: HashSet<RepositoryId> = statics.iter().map(|r| r.id).collect();
    let mine = |r: &&Repository| shard.owns(r.id);
    let from_static: Vec<Repository> = statics.iter().filter(mine).cloned().collect();
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
pub fn shard_hash(id: RepositoryId) -> u64 {
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

    fn entry(n: i64, path: &str, archived: bool) -> RepositorySummary {
        RepositorySummary {
            id: n,
            path_with_namespace: Some(path.into()),
            name: None,
            archived: Some(archived),
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
    fn discovered_names_are_the_path_with_namespace() {
        let list = select(vec![entry(5, "team/repo", false)], &config(&[], &[], false));
        assert_eq!(list[0].name.as_deref(), Some("team/repo"));
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
        let statics = vec![Repository {
            id: id(1),
            name: Some(Arc::from("custom")),
        }];
        let discovered = vec![
            Repository {
                id: id(1),
                name: Some(Arc::from("team/one")),
            },
            Repository {
                id: id(2),
                name: Some(Arc::from("team/two")),
            },
        ];
        let (all, n_static, n_discovered) = merge(&statics, &discovered, Shard::default());
        assert_eq!((n_static, n_discovered), (1, 1));
        assert_eq!(all[0].name.as_deref(), Some("custom"));
        assert_eq!(all[1].name.as_deref(), Some("team/two"));
    }

    #[test]
    fn shard_hash_is_fnv1a_64_of_the_decimal_id() {
        // The values `python3 -c` gives for FNV-1a 64 (README, "Sharding"); a change here
        // reshuffles every sharded deployment.
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
