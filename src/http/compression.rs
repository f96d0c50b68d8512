//! gzip for `/metrics` and `/probe` when the request's `Accept-Encoding` allows it.
//!
//! The negotiation (q-values, `identity`, `*`, `gzip;q=0`, garbage) and the streaming are
//! tower-http's: each piece of the exposition is compressed as it is produced, so the answer is
//! still never held whole. A client that does not accept gzip gets the text as it is.

use tower_http::compression::{CompressionLayer, CompressionLevel};

/// The gzip level: the fastest. On a large scrape served from the cache the body shrinks about
/// as much at every level, and the fastest level costs by far the least time to the last byte
/// (BENCHMARKS.md, "The compression level").
const LEVEL: CompressionLevel = CompressionLevel::Fastest;

/// The compression layer of the exposition routes.
pub(crate) fn layer() -> CompressionLayer {
    CompressionLayer::new().quality(LEVEL)
}
