//! Request recording for the conformance suite: the last [`CAPACITY`] requests received (method,
//! path, raw query, every header, and the body of requests that have one), served by
//! `GET /-/requests` and cleared by `DELETE /-/requests`.
//!
//! Off by default, and off in `--demo`: a recorded request holds its `Authorization` signature,
//! security token or IAM password, so only a test that owns the simulator should turn it on
//! ([`crate::SimConfig::record_requests`], `codearts-sim --record-requests`). Memory stays bounded:
//! the oldest request goes when a new one comes, and a body is kept up to [`MAX_BODY`] bytes.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

/// How many requests are kept.
pub const CAPACITY: usize = 1000;
/// How much of one body is kept.
pub const MAX_BODY: usize = 64 * 1024;

/// One request as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The query exactly as sent, without `?`; empty when there was none.
    pub query: String,
    /// `(name, value)` in the order received; names in lower case; values that are not UTF-8
    /// are replaced lossily.
    pub headers: Vec<(String, String)>,
    /// The body (lossy UTF-8, at most [`MAX_BODY`] bytes), for requests that carry one.
    pub body: Option<String>,
}

/// The recorded requests, newest last.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    requests: Mutex<VecDeque<RecordedRequest>>,
}

impl Recorder {
    pub(crate) fn record(&self, request: RecordedRequest) {
        let mut requests = self.lock();
        if requests.len() == CAPACITY {
            requests.pop_front();
        }
        requests.push_back(request);
    }

    pub(crate) fn snapshot(&self) -> Vec<RecordedRequest> {
        self.lock().iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<RecordedRequest>> {
        // A panic while holding the lock leaves a list that is still whole: keep using it.
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A body as kept: lossy UTF-8 of at most [`MAX_BODY`] bytes.
pub(crate) fn kept_body(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_BODY)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(n: usize) -> RecordedRequest {
        RecordedRequest {
            method: "GET".into(),
            path: format!("/{n}"),
            query: String::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    #[test]
    fn keeps_only_the_newest_requests() {
        let recorder = Recorder::default();
        for n in 0..CAPACITY + 5 {
            recorder.record(request(n));
        }
        let kept = recorder.snapshot();
        assert_eq!(kept.len(), CAPACITY);
        assert_eq!(kept[0].path, "/5");
        assert_eq!(kept[CAPACITY - 1].path, format!("/{}", CAPACITY + 4));
        recorder.clear();
        assert!(recorder.snapshot().is_empty());
    }

    #[test]
    fn bodies_are_cut_at_the_limit() {
        assert_eq!(kept_body(&vec![b'a'; MAX_BODY + 10]).len(), MAX_BODY);
        assert_eq!(kept_body(b"{}"), "{}");
    }
}
