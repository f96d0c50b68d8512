//! Any text as a config file: a config or an error that names a key, never a panic.
#![no_main]

use codearts_repo_exporter::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Err(err) = Config::parse(text, &|name| (name == "SET").then(|| "value".to_owned())) {
        let err = err.to_string();
        assert!(err.contains(": "), "an error without a key: {err}");
    }
});
