//! Why no credential could be attached to a request.

/// Why no credential could be attached. The text names files and causes, never secret values.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);
