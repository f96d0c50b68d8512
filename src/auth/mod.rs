//! auth
pub mod signer;
