//! The documentation holds to the product: what a page states that the exporter can be asked,
//! a test compares with the exporter, both ways, and every link between the pages resolves.
//!
//! - `configuration`: docs/configuration.md's key table is the loader's keys, its regions table
//!   the built-in regions;
//! - `deployment`: docs/deployment.md's VM install is the systemd unit's own, from the release
//!   tarball's paths;
//! - `examples`: every whole config the pages show passes the syntax-only check;
//! - `metrics`: docs/metrics.md's metric tables are the families of a scrape with every family
//!   on;
//! - `links`: every relative link and `#anchor` in the tracked Markdown resolves.
//!
//! (The dashboard's and the rules' tables in docs/metrics.md are checked with the dashboard, in
//! `dashboard`.)

mod configuration;
mod deployment;
mod examples;
mod links;
mod metrics;
