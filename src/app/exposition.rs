//! What a scrape or a probe answers: the per-repository text, streamed piece by piece, then
//! the exporter's own metrics.

use bytes::Bytes;
use prometheus::{Encoder, Registry, TextEncoder};

use crate::metrics::RepositoryText;

/// A Prometheus text exposition, produced piece by piece (see [`Exposition::next_piece`]).
pub struct Exposition {
    repositories: Option<RepositoryText>,
    /// The exporter's own metrics (`/metrics` only), encoded when the answer starts.
    tail: Option<Bytes>,
}

impl Exposition {
    /// The per-repository series of `repositories`, followed by every metric of `registry`.
    pub(super) fn with_registry(repositories: RepositoryText, registry: &Registry) -> Self {
        let mut tail = Vec::new();
        // Registered metrics always encode; if one ever did not, the scrape still answers.
        if let Err(err) = TextEncoder::new().encode(&registry.gather(), &mut tail) {
            tracing::error!(error = %err, "cannot encode the exporter's own metrics");
        }
        Self {
            repositories: Some(repositories),
            tail: Some(tail.into()),
        }
    }

    /// The per-repository series of `repositories` only (`/probe`: the exporter's own metrics
    /// belong on `/metrics`).
    pub(super) fn repositories_only(repositories: RepositoryText) -> Self {
        Self {
            repositories: Some(repositories),
            tail: None,
        }
    }

    /// The next piece of the text, each ending at a line end; `None` when all was produced.
    pub fn next_piece(&mut self) -> Option<Bytes> {
        if let Some(text) = self.repositories.as_mut() {
            if let Some(piece) = text.next_piece() {
                return Some(piece);
            }
            self.repositories = None;
        }
        self.tail.take().filter(|tail| !tail.is_empty())
    }
}

impl Iterator for Exposition {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        self.next_piece()
    }
}
