//! The APIs the exporter calls, by the fixed name they carry in the `endpoint` label.

/// Which API a request is for: the `endpoint` label, never a URL.
/// The discriminants index per-endpoint tables; [`Endpoint::ALL`] lists them in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    StatisticsStatus = 0,
    UserRepositories = 1,
    IamToken = 2,
    IamProjects = 3,
    EcsMetadata = 4,
    LastPushEvent = 5,
}

impl Endpoint {
    pub const ALL: [Endpoint; 6] = [
        Endpoint::StatisticsStatus,
        Endpoint::UserRepositories,
        Endpoint::IamToken,
        Endpoint::IamProjects,
        Endpoint::EcsMetadata,
        Endpoint::LastPushEvent,
    ];

    pub fn as_label(self) -> &'static str {
        match self {
            Endpoint::StatisticsStatus => "statistics_status",
            Endpoint::UserRepositories => "user_repositories",
            Endpoint::IamToken => "iam_token",
            Endpoint::IamProjects => "iam_projects",
            Endpoint::EcsMetadata => "ecs_metadata",
            Endpoint::LastPushEvent => "last_push_event",
        }
    }

    /// Whether requests wait for the shared rate limit (`scrape.rate_limit`) and its pauses
    /// after throttling. The limit is there for the API gateway's per-user quota; the ECS
    /// metadata service is a link-local service of the host, outside that quota, and a
    /// credential fetch must not queue behind a thousand status requests (at 0.2 requests per
    /// second its two to four requests would take up to 20 s). IAM requests do share it: they
    /// are rare, and IAM is a Huawei Cloud API behind a gateway of its own.
    pub fn is_rate_limited(self) -> bool {
        !matches!(self, Endpoint::EcsMetadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_metadata_service_bypasses_the_rate_limit() {
        let unlimited: Vec<_> = Endpoint::ALL
            .into_iter()
            .filter(|e| !e.is_rate_limited())
            .collect();
        assert_eq!(unlimited, [Endpoint::EcsMetadata]);
    }

    #[test]
    fn all_lists_the_endpoints_in_discriminant_order() {
        for (index, endpoint) in Endpoint::ALL.iter().enumerate() {
            assert_eq!(*endpoint as usize, index);
        }
    }
}
