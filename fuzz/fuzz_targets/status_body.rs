//! Any bytes as a statistics-status answer or an error body: never a panic, and whatever parses
//! renders to text.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use codearts_repo_exporter::{
    ApiErrorBody, Families, Repository, RepositoryId, RepositoryResult, RepositoryText,
    StatisticsStatus,
};
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
            answered: Some(SystemTime::now()),
            last_push: None,
        };
        let text = RepositoryText::new(vec![result], SystemTime::now(), Families::ALL);
        let text: Vec<u8> = text.flatten().collect();
        assert!(text.ends_with(b"\n"));
    }
});
