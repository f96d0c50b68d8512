//! The built-in table of CodeArts Repo endpoints per Huawei Cloud region.
//!
//! Host names follow three patterns, so the table is data, never derived from the region id
//! (reference §2, taken from the official SDKs' region files).

/// `(region id, endpoint)` pairs.
pub const REGIONS: &[(&str, &str)] = &[
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

/// The CodeArts Repo endpoint of `region`, if the table knows it.
pub fn endpoint_of(region: &str) -> Option<&'static str> {
    REGIONS
        .iter()
        .find(|(id, _)| *id == region)
        .map(|(_, endpoint)| *endpoint)
}

/// The known region ids, for error messages.
pub fn known_regions() -> String {
    REGIONS
        .iter()
        .map(|(id, _)| *id)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

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
