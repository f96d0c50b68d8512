//! Which repositories exist: ids, `namespace/name` paths and the archived flag.

use super::Answers;

/// The first repository id; a realistic 10-digit CodeArts id.
pub const FIRST_ID: u32 = 2_111_915_000;

/// The most repositories the simulator serves: ids must stay within CodeArts' 1..=2147483647.
pub const MAX_REPOSITORIES: u32 = i32::MAX.unsigned_abs() - FIRST_ID + 1;

/// How many repositories `--demo` serves: one per entry of the realistic name list.
pub const DEMO_REPOSITORIES: u32 = DEMO_NAMES.len() as u32;

/// One simulated repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRepository {
    pub id: u32,
    /// `path_with_namespace`, e.g. `payments/api`.
    pub name: String,
    pub archived: bool,
}

/// Realistic repository paths; beyond their number they repeat with a `-N` suffix.
const DEMO_NAMES: [&str; 48] = [
    "payments/api",
    "payments/ledger",
    "payments/checkout-web",
    "payments/fraud-detection",
    "platform/gateway",
    "platform/service-mesh",
    "platform/config-center",
    "platform/observability",
    "mobile/android-app",
    "mobile/ios-app",
    "mobile/push-service",
    "data/warehouse-etl",
    "data/stream-ingest",
    "data/reporting",
    "web/storefront",
    "web/admin-console",
    "web/design-system",
    "infra/terraform-modules",
    "infra/k8s-manifests",
    "infra/ci-templates",
    "identity/auth-service",
    "identity/user-profile",
    "search/indexer",
    "search/query-api",
    "ml/recommendation",
    "ml/feature-store",
    "security/vault-config",
    "security/audit-log",
    "legacy/billing-v1-archive",
    "legacy/crm",
    "logistics/shipping-api",
    "logistics/warehouse-scanner",
    "support/ticketing",
    "support/chatbot",
    "docs/developer-portal",
    "docs/api-reference",
    "qa/e2e-suite",
    "qa/load-tests",
    "marketing/campaign-manager",
    "marketing/landing-pages",
    "notifications/email-sender",
    "notifications/sms-gateway",
    "iot/device-registry",
    "iot/telemetry-collector",
    "finance/invoicing",
    "finance/tax-engine",
    "hr/onboarding-portal",
    "tools/release-bot",
];

/// Indices (into the repository list) of the archived demo repositories.
const ARCHIVED: [u32; 2] = [28, 29];

/// The repositories of one simulator, in id order.
#[derive(Debug)]
pub(crate) struct Catalog {
    repositories: Vec<SimRepository>,
}

impl Catalog {
    pub(crate) fn new(count: u32, answers: Answers) -> Result<Self, String> {
        if count > MAX_REPOSITORIES {
            return Err(format!(
                "repositories: {count} is more than {MAX_REPOSITORIES}, the most whose ids \
                 ({FIRST_ID}..) stay within 2147483647"
            ));
        }
        let repositories = (0..count)
            .map(|index| SimRepository {
                id: FIRST_ID + index,
                name: name_of(index, answers),
                archived: answers == Answers::Varied && ARCHIVED.contains(&index),
            })
            .collect();
        Ok(Self { repositories })
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
}

fn name_of(index: u32, answers: Answers) -> String {
    match answers {
        Answers::Uniform => format!("bench/repo-{index:05}"),
        Answers::Varied => {
            let names = DEMO_NAMES.len() as u32;
            let base = DEMO_NAMES[(index % names) as usize];
            match index / names {
                0 => base.to_owned(),
                round => format!("{base}-{}", round + 1),
            }
        }
    }
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
        assert_eq!(catalog.repositories()[42].name, "bench/repo-00042");
        assert!(catalog.repositories().iter().all(|r| !r.archived));
    }

    #[test]
    fn varied_names_are_unique_even_past_the_list_and_two_are_archived() {
        let catalog = Catalog::new(DEMO_REPOSITORIES * 3, Answers::Varied).unwrap();
        let names: HashSet<&str> = catalog
            .repositories()
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names.len(), catalog.repositories().len());
        assert_eq!(catalog.repositories()[0].name, "payments/api");
        assert_eq!(catalog.repositories()[48].name, "payments/api-2");
        let archived = catalog.repositories().iter().filter(|r| r.archived).count();
        assert_eq!(archived, 2);
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
