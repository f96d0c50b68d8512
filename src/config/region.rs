//! The built-in tables of endpoints per Huawei Cloud region: CodeArts Repo's and IAM's.
//!
//! Both are copies of the official SDK's region files (`CodeArtsRepoRegion` of
//! `huaweicloudsdkcodeartsrepo`, `IamRegion` of `huaweicloudsdkiam`); the conformance suite
//! (`tests/conformance/tables.py`) compares them with the SDK's. Host names follow several
//! patterns (`codehub-ext.`, `codeartsrepo-ext.`, `repo.`; IAM in `eu-west-101` lives under
//! `myhuaweicloud.eu`), so the tables are data, never derived from the region id.

/// CodeArts Repo: `(region id, endpoint)` pairs.
pub const CODEARTS_REGIONS: &[(&str, &str)] = &[
    (
        "cn-north-1",
        "https://codehub-ext.cn-north-1.myhuaweicloud.com",
    ),
    (
        "cn-north-4",
        "https://codehub-ext.cn-north-4.myhuaweicloud.com",
    ),
    (
        "cn-east-2",
        "https://codehub-ext.cn-east-2.myhuaweicloud.com",
    ),
    (
        "cn-east-3",
        "https://codehub-ext.cn-east-3.myhuaweicloud.com",
    ),
    (
        "cn-south-1",
        "https://codehub-ext.cn-south-1.myhuaweicloud.com",
    ),
    (
        "cn-south-2",
        "https://codehub-ext.cn-south-2.myhuaweicloud.com",
    ),
    (
        "cn-southwest-2",
        "https://codehub-ext.cn-southwest-2.myhuaweicloud.com",
    ),
    (
        "ap-southeast-3",
        "https://codehub-ext.ap-southeast-3.myhuaweicloud.com",
    ),
    (
        "sa-brazil-1",
        "https://codehub-ext.sa-brazil-1.myhuaweicloud.com",
    ),
    (
        "la-north-2",
        "https://codehub-ext.la-north-2.myhuaweicloud.com",
    ),
    (
        "la-south-2",
        "https://codeartsrepo-ext.la-south-2.myhuaweicloud.com",
    ),
    (
        "tr-west-1",
        "https://codeartsrepo-ext.tr-west-1.myhuaweicloud.com",
    ),
    (
        "eu-west-101",
        "https://codeartsrepo-ext.eu-west-101.myhuaweicloud.com",
    ),
    ("me-east-1", "https://repo.me-east-1.myhuaweicloud.com"),
    ("af-south-1", "https://repo.af-south-1.myhuaweicloud.com"),
    ("af-north-1", "https://repo.af-north-1.myhuaweicloud.com"),
];

/// IAM: `(region id, endpoint)` pairs, for the IAM token and the project-id lookup.
pub const IAM_REGIONS: &[(&str, &str)] = &[
    ("cn-north-2", "https://iam.cn-north-2.myhuaweicloud.com"),
    ("cn-north-4", "https://iam.cn-north-4.myhuaweicloud.com"),
    ("cn-north-1", "https://iam.cn-north-1.myhuaweicloud.com"),
    ("cn-east-2", "https://iam.cn-east-2.myhuaweicloud.com"),
    ("cn-east-3", "https://iam.cn-east-3.myhuaweicloud.com"),
    ("cn-south-1", "https://iam.cn-south-1.myhuaweicloud.com"),
    ("cn-south-2", "https://iam.cn-south-2.myhuaweicloud.com"),
    (
        "cn-southwest-2",
        "https://iam.cn-southwest-2.myhuaweicloud.com",
    ),
    (
        "ap-southeast-1",
        "https://iam.ap-southeast-1.myhuaweicloud.com",
    ),
    (
        "ap-southeast-2",
        "https://iam.ap-southeast-2.myhuaweicloud.com",
    ),
    (
        "ap-southeast-3",
        "https://iam.ap-southeast-3.myhuaweicloud.com",
    ),
    ("af-south-1", "https://iam.af-south-1.myhuaweicloud.com"),
    ("sa-brazil-1", "https://iam.sa-brazil-1.myhuaweicloud.com"),
    ("la-south-2", "https://iam.la-south-2.myhuaweicloud.com"),
    ("na-mexico-1", "https://iam.na-mexico-1.myhuaweicloud.com"),
    ("la-north-2", "https://iam.la-north-2.myhuaweicloud.com"),
    ("cn-north-9", "https://iam.cn-north-9.myhuaweicloud.com"),
    ("eu-west-101", "https://iam.eu-west-101.myhuaweicloud.eu"),
    ("eu-west-0", "https://iam.eu-west-0.myhuaweicloud.com"),
    (
        "my-kualalumpur-1",
        "https://iam.my-kualalumpur-1.myhuaweicloud.com",
    ),
    ("ru-moscow-1", "https://iam.ru-moscow-1.myhuaweicloud.com"),
    ("me-east-1", "https://iam.me-east-1.myhuaweicloud.com"),
    (
        "ap-southeast-4",
        "https://iam.ap-southeast-4.myhuaweicloud.com",
    ),
    ("ae-ad-1", "https://iam.ae-ad-1.myhuaweicloud.com"),
    ("cn-east-4", "https://iam.cn-east-4.myhuaweicloud.com"),
    ("cn-east-5", "https://iam.cn-east-5.myhuaweicloud.com"),
    ("tr-west-1", "https://iam.tr-west-1.myhuaweicloud.com"),
    ("cn-north-12", "https://iam.cn-north-12.myhuaweicloud.com"),
];

/// The global IAM endpoint, for regions the IAM table does not list (as the SDK's
/// `IamHelper.DEFAULT_ENDPOINT`).
pub const GLOBAL_IAM_ENDPOINT: &str = "https://iam.myhuaweicloud.com";

/// The CodeArts Repo endpoint of `region`, if the table knows it.
pub fn endpoint_of(region: &str) -> Option<&'static str> {
    CODEARTS_REGIONS
        .iter()
        .find(|(id, _)| *id == region)
        .map(|(_, endpoint)| *endpoint)
}

/// The known region ids, for error messages.
pub fn known_regions() -> String {
    CODEARTS_REGIONS
        .iter()
        .map(|(id, _)| *id)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The IAM endpoint for `region`: the table's, else (no region, or one the table does not
/// list) the global endpoint.
pub fn iam_endpoint_of(region: Option<&str>) -> &'static str {
    region
        .and_then(|region| IAM_REGIONS.iter().find(|(id, _)| *id == region))
        .map_or(GLOBAL_IAM_ENDPOINT, |(_, endpoint)| *endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_endpoints_come_from_the_table_or_the_global_endpoint() {
        assert_eq!(
            iam_endpoint_of(Some("eu-west-101")),
            "https://iam.eu-west-101.myhuaweicloud.eu"
        );
        assert_eq!(
            iam_endpoint_of(Some("cn-north-4")),
            "https://iam.cn-north-4.myhuaweicloud.com"
        );
        // CodeArts Repo runs in af-north-1, but the SDK's IAM table has no row for it.
        assert_eq!(iam_endpoint_of(Some("af-north-1")), GLOBAL_IAM_ENDPOINT);
        assert_eq!(iam_endpoint_of(None), GLOBAL_IAM_ENDPOINT);
    }

    #[test]
    fn tables_have_no_duplicate_regions() {
        for table in [CODEARTS_REGIONS, IAM_REGIONS] {
            let mut ids: Vec<_> = table.iter().map(|(id, _)| *id).collect();
            ids.sort_unstable();
            let before = ids.len();
            ids.dedup();
            assert_eq!(ids.len(), before);
        }
    }

    #[test]
    fn knows_hosts_of_all_three_patterns() {
        assert_eq!(
            endpoint_of("cn-north-4"),
            Some("https://codehub-ext.cn-north-4.myhuaweicloud.com")
        );
        assert_eq!(
            endpoint_of("tr-west-1"),
            Some("https://codeartsrepo-ext.tr-west-1.myhuaweicloud.com")
        );
        assert_eq!(
            endpoint_of("af-south-1"),
            Some("https://repo.af-south-1.myhuaweicloud.com")
        );
    }

    #[test]
    fn unknown_region_has_no_endpoint() {
        assert_eq!(endpoint_of("mars-1"), None);
    }
}
