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
        let repository = Repository::new(RepositoryId::new(1).unwrap(), Some(Arc::from("fuzz/repo")));
        let result = RepositoryResult::succeeded(repository, status, Duration::from_millis(1));
        let text = RepositoryText::new(vec![result], SystemTime::now(), Families::ALL);
        let text: Vec<u8> = text.flatten().collect();
        assert!(text.ends_with(b"\n"));
    }
});
