//! Helpers shared by the integration tests. Each test file includes them with `mod common;` and
//! uses what it needs, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod procs;
