//! The configuration: the validated types every other layer reads ([`Config`] and its parts),
//! loading a YAML file with `${VAR}` expansion, and the region tables.
//!
//! Every error names the key it is about (`scrape.concurrency: must be at least 1`), so an
//! operator can fix the file without reading code. This module reads the files the config
//! points at only to check that they exist (relative paths are relative to the config file);
//! reading secrets is the job of [`crate::auth`].

mod describe;
mod error;
mod expand;
mod lenient;
mod load;
mod paths;
mod raw;
pub mod region;
mod secret;
mod types;
mod validate;
mod values;
pub(crate) mod yaml_error;

pub(crate) use error::ConfigError;
pub use expand::UnsetVariable;
pub use load::{CheckMode, Unchecked};
pub use paths::FileKey;
pub(crate) use secret::Secret;
pub use types::*;
