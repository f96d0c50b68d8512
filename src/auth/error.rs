//! Why no credential could be attached to a request, or why `/readyz` says the exporter is not
//! ready: the same question asked without a request.

use std::path::PathBuf;

/// Why no credential could be attached. The text names files and causes, never secret values.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A token or key file cannot be read, or is empty.
    #[error(transparent)]
    SecretFile(#[from] SecretFileError),
    /// A credential or project id holds characters an HTTP header cannot carry.
    #[error("the {0} is not valid in an HTTP header")]
    NotAHeader(&'static str),
    /// Another request is obtaining the credential, and this one's deadline came first.
    #[error("{0}")]
    StillFetching(String),
    /// The credential could not be obtained: the last request for it failed, or the backoff
    /// after failures holds the next one back. The message says which and why.
    #[error("{0}")]
    Unavailable(String),
    /// Nothing was asked for yet (`/readyz` before the first scrape or warm-up).
    #[error("{0}")]
    NotYet(String),
}

/// Why a secret file gave no secret. Names the file, never its content.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    #[error("secret file {}: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("secret file {} is empty", .path.display())]
    Empty { path: PathBuf },
}
