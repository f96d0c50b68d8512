//! The APIs the exporter calls, by the fixed name they carry in the `endpoint` label.

/// Which API a request is for: the `endpoint` label, never a URL.
/// The discriminants index per-endpoint tables; [`Endpoint::ALL`] lists them in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    StatisticsStatus = 0,
    UserRepositories = 1,
    IamToken = 2,
    LastPushEvent = 3,
}

impl Endpoint {
    pub const ALL: [Endpoint; 4] = [
        Endpoint::StatisticsStatus,
        Endpoint::UserRepositories,
        Endpoint::IamToken,
        Endpoint::LastPushEvent,
    ];

    pub fn as_label(self) -> &'static str {
        match self {
            Endpoint::StatisticsStatus => "statistics_status",
            Endpoint::UserRepositories => "user_repositories",
            Endpoint::IamToken => "iam_token",
            Endpoint::LastPushEvent => "last_push_event",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_the_endpoints_in_discriminant_order() {
        for (index, endpoint) in Endpoint::ALL.iter().enumerate() {
            assert_eq!(*endpoint as usize, index);
        }
    }
}
