//! The config's `log.level` changes the level of the running exporter on reload; a bad value is
//! refused naming the key (and the level stays); a reload without it returns to `--log.level`.

use std::path::Path;

use crate::helpers::*;
use codearts_repo_exporter::logging::{self, Level};
use rusty_fork::rusty_fork_test;

/// A line every scrape logs at debug.
const DEBUG_LINE: &str = "writing the per-repository text";

rusty_fork_test! {
    /// In a process of its own: it installs the process-wide subscriber, as `main` does,
    /// whose level every reload of a test beside it would change.
    #[test]
    fn log_level_follows_the_config_across_reloads() {
        block_on_this_thread(follow_the_config_level_across_reloads());
    }
}

async fn follow_the_config_level_across_reloads() {
    let captured = Captured::default();
    let writer = captured.clone();
    logging::init_with_writer(Level::Info, "logfmt", move || writer.clone());

    let upstream = Upstream::start().await;
    upstream.every_get(ok_status()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yml");
    let base = config_yaml(&upstream.uri(), &[1], "");
    let write = |path: &Path, log: &str| std::fs::write(path, format!("{base}{log}")).unwrap();

    // Started without log.level: the flag's info.
    write(&path, "");
    let app = app_from_file(&path);
    scrape(&app, None).await;
    assert!(!captured.take().contains(DEBUG_LINE));

    // A reload with log.level: debug turns debug on, and says so.
    write(&path, "log:\n  level: debug\n");
    app.reload().await.expect("reload");
    let logged = captured.take();
    assert!(
        logged.contains("log level changed") && logged.contains("log_level=debug"),
        "{logged}"
    );
    scrape(&app, None).await;
    assert!(captured.take().contains(DEBUG_LINE));

    // A bad level is refused naming the key; the running level stays.
    write(&path, "log:\n  level: loud\n");
    let err = app.reload().await.expect_err("refused").to_string();
    assert!(
        err.starts_with("log.level: unknown level \"loud\""),
        "{err}"
    );
    scrape(&app, None).await;
    assert!(captured.take().contains(DEBUG_LINE));

    // Without the key, back to --log.level (info).
    write(&path, "");
    app.reload().await.expect("reload");
    captured.take();
    scrape(&app, None).await;
    assert!(!captured.take().contains(DEBUG_LINE));

    // warn silences the info lines of a reload; the change itself is still logged, before it.
    write(&path, "log:\n  level: warn\n");
    app.reload().await.expect("reload");
    let logged = captured.take();
    assert!(
        logged.contains("log level changed") && !logged.contains("configuration reloaded"),
        "{logged}"
    );
}
