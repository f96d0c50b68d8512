//! The text exposition as `promtool check metrics` reads it: label values no repository should
//! have (quotes, backslashes, new lines, unicode, very long) are escaped so that the real
//! parser accepts them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use codearts_repo_exporter::RepositoryResult;
use codearts_repo_exporter::{Families, RepositoryText};
use codearts_repo_exporter::{Repository, RepositoryId};
use codearts_repo_exporter::{StatisticsEvent, StatisticsStatus};
use codearts_testkit::prometheus::promtool_check_metrics;

/// A sample of hostile label values, checked by the real `promtool check metrics`.
#[test]
#[ignore = "needs promtool (apt-get install prometheus); scripts/test-all.sh runs it"]
fn promtool_accepts_hostile_label_values() {
    let names = [
        "plain/name",
        "quote\"inside",
        "back\\slash",
        "new\nline",
        "tab\there",
        "unicode/仓库/émoji🚀",
        "{curly}=,comma",
        "#hash at start",
        "trailing\\",
        &"long".repeat(100),
    ];
    let mut results = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let status = StatisticsStatus {
            can_statistics: Some(true),
            reason: Some(0),
            event: Some(StatisticsEvent {
                branch: Some(name.to_string()),
                status: Some(name.to_string()),
                stat_date: Some("20250604".into()),
                ..Default::default()
            }),
        };
        // Repository i + 1, named `name`, answered with `status`.
        let id = RepositoryId::new(i as i64 + 1).unwrap();
        let repository = Repository::new(id, Some(Arc::from(*name)));
        results.push(RepositoryResult::succeeded(
            repository,
            status,
            Duration::from_millis(10),
        ));
    }
    let text = RepositoryText::new(results, SystemTime::now(), Families::ALL);
    let text = String::from_utf8(text.flatten().collect()).expect("the exposition is UTF-8");
    let output = promtool_check_metrics(text.as_bytes());
    assert!(output.is_empty(), "promtool found problems:\n{output}");
}
