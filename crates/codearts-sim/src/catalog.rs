//! Which repositories exist: ids, group paths, display names, CodeArts projects, the archived
//! flag and the creation order.
//!
//! A repository's full path is `namespace + "/" + path`, where `namespace` is the whole group
//! path (it may be nested: `platform/infra`) and `path` the repository's own path segment. Its
//! `name` is a display name, which may differ from the path (`API Gateway` vs `api-gateway`):
//! `GET /v4/user/repositories` (`RepositorySimplestDto` in the SDK's
//! `huaweicloudsdkcodeartsrepo.v4.model`) has no `path_with_namespace`, so a client must build
//! the full path from `namespace` and `path`.

use super::answers::mix;
use super::Answers;

/// The first repository id; a realistic 10-digit CodeArts id.
pub const FIRST_ID: u32 = 2_111_915_000;

/// The most repositories the simulator serves: ids must stay within CodeArts' 1..=2147483647.
pub const MAX_REPOSITORIES: u32 = i32::MAX.unsigned_abs() - FIRST_ID + 1;

/// How many repositories `--demo` serves: one per entry of the realistic list.
pub const DEMO_REPOSITORIES: u32 = DEMO.len() as u32;

/// One simulated repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRepository {
    pub id: u32,
    /// The full path, `namespace/path`, e.g. `platform/infra/api-gateway`: what the exporter
    /// shows as the `repository` label. The list API never sends it as one field.
    pub full_path: String,
    /// The display name (`name` in the list), e.g. `API Gateway`.
    pub display_name: String,
    /// The CodeArts project the repository belongs to (`project_name`).
    pub project_name: String,
    /// Its 32-hex CodeArts project UUID (`project_id`; not an IAM project id).
    pub project_id: String,
    pub archived: bool,
    /// The CodeArts project was deleted (`project_is_delete`): listed, but not to be watched.
    pub project_is_delete: bool,
    /// When the repository was created, Unix seconds: orders `order_by=created_at`. Strictly
    /// increasing with the id, as ids are handed out in creation order.
    pub created_at: i64,
}

impl SimRepository {
    /// The group path, everything before the last `/`.
    pub fn namespace(&self) -> &str {
        self.full_path.rsplit_once('/').map_or("", |(ns, _)| ns)
    }

    /// The repository's own path segment, after the last `/`.
    pub fn path(&self) -> &str {
        self.full_path
            .rsplit_once('/')
            .map_or(self.full_path.as_str(), |(_, path)| path)
    }
}

/// One realistic demo repository: its full path and, when it differs from the path, its
/// display name.
struct DemoEntry {
    path: &'static str,
    name: Option<&'static str>,
}

const fn entry(path: &'static str) -> DemoEntry {
    DemoEntry { path, name: None }
}

const fn named(path: &'static str, name: &'static str) -> DemoEntry {
    DemoEntry {
        path,
        name: Some(name),
    }
}

/// The demo's repositories; beyond their number they repeat with a `-N` suffix. Their position
/// fixes their faults (`faults.rs`), so entries keep their index.
const DEMO: [DemoEntry; 48] = [
    named("payments/api", "Payments API"),
    entry("payments/ledger"),
    named("payments/checkout-web", "Checkout Web"),
    named("payments/fraud/detection", "Fraud Detection"),
    named("platform/infra/api-gateway", "API Gateway"),
    entry("platform/service-mesh"),
    entry("platform/infra/config-center"),
    entry("platform/observability"),
    named("mobile/android-app", "Android App"),
    named("mobile/ios-app", "iOS App"),
    entry("mobile/push-service"),
    entry("data/pipelines/warehouse-etl"),
    entry("data/pipelines/stream-ingest"),
    entry("data/reporting"),
    entry("web/storefront"),
    entry("web/admin-console"),
    named("web/design-system", "Design System"),
    entry("infra/terraform-modules"),
    entry("infra/k8s-manifests"),
    entry("infra/ci-templates"),
    entry("identity/auth-service"),
    entry("identity/user-profile"),
    entry("search/indexer"),
    entry("search/query-api"),
    entry("ml/recommendation"),
    entry("ml/feature-store"),
    entry("security/vault-config"),
    entry("security/audit-log"),
    entry("legacy/billing-v1-archive"),
    entry("legacy/crm"),
    entry("logistics/shipping-api"),
    entry("logistics/warehouse-scanner"),
    entry("support/ticketing"),
    entry("support/chatbot"),
    named("docs/developer-portal", "Developer Portal"),
    entry("docs/api-reference"),
    entry("qa/e2e-suite"),
    entry("qa/load-tests"),
    entry("marketing/campaign-manager"),
    entry("marketing/landing-pages"),
    entry("notifications/email-sender"),
    entry("notifications/sms-gateway"),
    entry("iot/device-registry"),
    entry("iot/telemetry-collector"),
    entry("finance/invoicing"),
    entry("finance/tax-engine"),
    named("hr/onboarding-portal", "Onboarding Portal"),
    entry("tools/release-bot"),
];

/// Positions (within each round of [`DEMO`]) of the archived demo repositories.
const ARCHIVED: [u32; 2] = [28, 29];
/// Positions of the demo repositories whose CodeArts project (`QA`) was deleted.
const DELETED_PROJECT: [u32; 2] = [36, 37];
/// Positions of demo repositories that are forks, with the position they were forked from.
pub(crate) const FORKS: [(u32, u32); 1] = [(39, 14)];

/// 2021-03-01T00:00:00+08:00: the first repository's creation.
const FIRST_CREATED_AT: i64 = 1_614_528_000;

/// The repositories of one simulator, in id order.
#[derive(Debug)]
pub(crate) struct Catalog {
    repositories: Vec<SimRepository>,
    answers: Answers,
}

impl Catalog {
    pub(crate) fn new(count: u32, answers: Answers) -> Result<Self, String> {
        let count = match answers {
            Answers::Scenarios => super::scenarios::SCENARIOS.len() as u32,
            _ => count,
        };
        if count > MAX_REPOSITORIES {
            return Err(format!(
                "repositories: {count} is more than {MAX_REPOSITORIES}, the most whose ids \
                 ({FIRST_ID}..) stay within 2147483647"
            ));
        }
        let repositories = (0..count)
            .map(|index| repository_at(index, answers))
            .collect();
        Ok(Self {
            repositories,
            answers,
        })
    }

    pub(crate) fn repositories(&self) -> &[SimRepository] {
        &self.repositories
    }

    /// The position of `id` in the list, if such a repository exists.
    pub(crate) fn index_of(&self, id: u32) -> Option<u32> {
        let index = id.checked_sub(FIRST_ID)?;
        (usize::try_from(index).ok()? < self.repositories.len()).then_some(index)
    }

    pub(crate) fn id_at(&self, index: u32) -> Option<u32> {
        let repository = self.repositories.get(usize::try_from(index).ok()?)?;
        Some(repository.id)
    }

    /// The repository `index` was forked from, if it is a fork.
    pub(crate) fn forked_from(&self, index: u32) -> Option<&SimRepository> {
        if self.answers != Answers::Varied {
            return None;
        }
        let round = index / DEMO_REPOSITORIES;
        let (_, parent) = FORKS
            .iter()
            .find(|(fork, _)| *fork == index % DEMO_REPOSITORIES)?;
        self.repositories
            .get(usize::try_from(round * DEMO_REPOSITORIES + parent).ok()?)
    }
}

fn repository_at(index: u32, answers: Answers) -> SimRepository {
    let id = FIRST_ID + index;
    let (full_path, display_name, archived, project_is_delete) = match answers {
        Answers::Uniform => {
            let path = format!("bench/repo-{index:05}");
            let name = format!("repo-{index:05}");
            (path, name, false, false)
        }
        Answers::Scenarios => {
            let scenario = &super::scenarios::SCENARIOS[index as usize];
            let path = format!("conformance/{}", scenario.name);
            (path, scenario.name.to_owned(), false, false)
        }
        Answers::Varied => {
            let base = index % DEMO_REPOSITORIES;
            let entry = &DEMO[base as usize];
            let suffix = match index / DEMO_REPOSITORIES {
                0 => String::new(),
                round => format!("-{}", round + 1),
            };
            let path = format!("{}{suffix}", entry.path);
            let name = match entry.name {
                Some(name) => format!("{name}{suffix}"),
                None => path.rsplit_once('/').map_or(&*path, |(_, p)| p).to_owned(),
            };
            (
                path,
                name,
                ARCHIVED.contains(&base),
                DELETED_PROJECT.contains(&base),
            )
        }
    };
    let project_name = project_of(&full_path);
    let seed = mix(u64::from(id));
    SimRepository {
        id,
        project_id: opaque_hex(&project_name),
        project_name,
        full_path,
        display_name,
        archived,
        project_is_delete,
        created_at: FIRST_CREATED_AT + i64::from(index) * 61 + (seed % 60) as i64,
    }
}

/// The CodeArts project of a repository: its top-level group, capitalised (`payments` →
/// `Payments`, `qa` → `QA`), as teams often keep one project per top-level group.
fn project_of(full_path: &str) -> String {
    let group = full_path.split('/').next().unwrap_or(full_path);
    if group.len() <= 2 {
        return group.to_ascii_uppercase();
    }
    let mut chars = group.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

/// A stable 32-hex identifier for a name (CodeArts project UUIDs, IAM project ids).
pub(crate) fn opaque_hex(name: &str) -> String {
    let seed = name.bytes().fold(0u64, |acc, b| mix(acc ^ u64::from(b)));
    format!("{:016x}{:016x}", mix(seed), mix(seed ^ 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_start_at_first_id_and_are_consecutive() {
        let catalog = Catalog::new(3, Answers::Uniform).unwrap();
        let ids: Vec<u32> = catalog.repositories().iter().map(|r| r.id).collect();
        assert_eq!(ids, [FIRST_ID, FIRST_ID + 1, FIRST_ID + 2]);
        assert_eq!(catalog.index_of(FIRST_ID + 2), Some(2));
        assert_eq!(catalog.index_of(FIRST_ID + 3), None);
        assert_eq!(catalog.index_of(FIRST_ID - 1), None);
    }

    #[test]
    fn bench_names_are_numbered() {
        let catalog = Catalog::new(43, Answers::Uniform).unwrap();
        let repository = &catalog.repositories()[42];
        assert_eq!(repository.full_path, "bench/repo-00042");
        assert_eq!(
            (repository.namespace(), repository.path()),
            ("bench", "repo-00042")
        );
        assert!(catalog
            .repositories()
            .iter()
            .all(|r| !r.archived && !r.project_is_delete));
    }

    #[test]
    fn varied_paths_are_unique_even_past_the_list() {
        let catalog = Catalog::new(DEMO_REPOSITORIES * 3, Answers::Varied).unwrap();
        let paths: HashSet<&str> = catalog
            .repositories()
            .iter()
            .map(|r| r.full_path.as_str())
            .collect();
        assert_eq!(paths.len(), catalog.repositories().len());
        assert_eq!(catalog.repositories()[0].full_path, "payments/api");
        assert_eq!(catalog.repositories()[48].full_path, "payments/api-2");
        assert_eq!(catalog.repositories()[48].display_name, "Payments API-2");
        let archived = catalog.repositories().iter().filter(|r| r.archived).count();
        assert_eq!(archived, 6);
        let deleted = catalog
            .repositories()
            .iter()
            .filter(|r| r.project_is_delete)
            .count();
        assert_eq!(deleted, 6);
    }

    #[test]
    fn some_groups_are_nested_and_some_names_differ_from_their_path() {
        let catalog = Catalog::new(DEMO_REPOSITORIES, Answers::Varied).unwrap();
        let gateway = &catalog.repositories()[4];
        assert_eq!(gateway.namespace(), "platform/infra");
        assert_eq!(gateway.path(), "api-gateway");
        assert_eq!(gateway.display_name, "API Gateway");
        assert_eq!(gateway.project_name, "Platform");
        let nested = catalog
            .repositories()
            .iter()
            .filter(|r| r.full_path.split('/').count() > 2)
            .count();
        assert!(nested >= 3, "{nested}");
        let renamed = catalog
            .repositories()
            .iter()
            .filter(|r| r.display_name != r.path())
            .count();
        assert!(renamed >= 5, "{renamed}");
        // What the demo promises: the static repositories and the failing ones keep their paths.
        assert_eq!(catalog.repositories()[5].full_path, "platform/service-mesh");
        assert_eq!(
            catalog.repositories()[26].full_path,
            "security/vault-config"
        );
    }

    #[test]
    fn projects_have_stable_uuids_shared_by_their_repositories() {
        let catalog = Catalog::new(DEMO_REPOSITORIES, Answers::Varied).unwrap();
        let repositories = catalog.repositories();
        assert_eq!(repositories[0].project_id, repositories[1].project_id);
        assert_ne!(repositories[0].project_id, repositories[4].project_id);
        assert_eq!(repositories[0].project_id.len(), 32);
        assert!(repositories[0]
            .project_id
            .bytes()
            .all(|b| b.is_ascii_hexdigit()));
        assert_eq!(repositories[36].project_name, "QA");
        assert!(repositories[36].project_is_delete);
        let again = Catalog::new(DEMO_REPOSITORIES, Answers::Varied).unwrap();
        assert_eq!(again.repositories(), repositories);
    }

    #[test]
    fn creation_times_increase_with_the_id() {
        let catalog = Catalog::new(500, Answers::Uniform).unwrap();
        assert!(catalog
            .repositories()
            .windows(2)
            .all(|pair| pair[0].created_at < pair[1].created_at));
    }

    #[test]
    fn a_fork_knows_its_parent() {
        let catalog = Catalog::new(DEMO_REPOSITORIES * 2, Answers::Varied).unwrap();
        assert_eq!(
            catalog.forked_from(39).map(|r| r.full_path.as_str()),
            Some("web/storefront")
        );
        assert_eq!(
            catalog.forked_from(48 + 39).map(|r| r.full_path.as_str()),
            Some("web/storefront-2")
        );
        assert!(catalog.forked_from(0).is_none());
    }

    #[test]
    fn refuses_more_repositories_than_valid_ids() {
        assert_eq!(
            u64::from(FIRST_ID) + u64::from(MAX_REPOSITORIES) - 1,
            2_147_483_647
        );
        assert!(Catalog::new(MAX_REPOSITORIES + 1, Answers::Uniform).is_err());
    }
}
