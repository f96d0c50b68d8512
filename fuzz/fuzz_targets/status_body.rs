//! Any bytes as a statistics-status answer or an error body: never a panic, and whatever parses
//! renders to text.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use codearts_repo_exporter::upstream::ApiErrorBody;
use codearts_repo_exporter::client::StatisticsStatus;
use codearts_repo_exporter::collect::RepositoryResult;
use codearts_repo_exporter::config::{Repository, RepositoryId};
use codearts_repo_exporter::metrics;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = ApiErrorBody::parse(body);
    if let Some(status) = StatisticsStatus::from_body(body) {
        let result = RepositoryResult {
            repository: Repository {
                id: RepositoryId::new(1).unwrap(),
                name: Some(Arc::from("fuzz/repo")),
                project: None,
            },
            status: Some(Arc::new(status)),
            error: None,
            http_status: 200,
            duration: Duration::from_millis(1),
            last_success: Some(SystemTime::now()),
            last_push: None,
        };
        let text = metrics::render_repositories(&[result], SystemTime::now());
        assert!(text.ends_with('\n'));
    }
});
