//! gzip for `/metrics` and `/probe` when the request's `Accept-Encoding` allows it.
//!
//! The negotiation (q-values, `identity`, `*`, `gzip;q=0`, garbage) and the streaming are
//! tower-http's: each piece of the exposition is compressed as it is produced, so the answer is
//! still never held whole. A client that does not accept gzip gets the text as it is.

use tower_http::compression::{CompressionLayer, CompressionLevel};

/// The gzip level: the fastest. Measured on a 10,000-repository scrape served from the cache
/// (BENCHMARKS.md, "gzip"): the body shrinks to well under an eighth at every level, and the
/// fastest level costs the least time to the last byte.
const LEVEL: CompressionLevel = CompressionLevel::Fastest;

/// The compression layer of the exposition routes.
pub fn layer() -> CompressionLayer {
    CompressionLayer::new().quality(LEVEL)
}
