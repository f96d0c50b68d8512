//! The lowest layer of talking to Huawei Cloud: one HTTP client with the shared rate limit and
//! body cap ([`Transport`]), the fixed names of the APIs called ([`Endpoint`]), what can go
//! wrong with a request ([`Failure`]) and the closed set of classes a failure is reported as
//! ([`ErrorClass`]), error bodies in every shape the official SDK reads ([`ApiErrorBody`]), the
//! API's time format ([`parse_time`]), and the request metrics ([`UpstreamMetrics`]).
//!
//! Both [`crate::auth`] (IAM, the metadata service) and [`crate::client`] (CodeArts Repo) send
//! through it, so neither needs the other's internals. It knows no credential and no API
//! shape beyond an error body.

mod echo;
mod endpoint;
mod error_body;
mod error_class;
mod metrics;
mod rate_limit;
mod time;
mod transport;

pub(crate) use endpoint::Endpoint;
pub use error_body::ApiErrorBody;
pub(crate) use error_class::{classify, ErrorClass, Failure};
pub(crate) use metrics::UpstreamMetrics;
pub(crate) use time::{believable, parse_time};
pub(crate) use transport::{RawAnswer, Transport};
