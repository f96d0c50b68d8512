//! Log set-up: logfmt or JSON on stderr, at the level of `--log.level`.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Installs the global subscriber. `level` is one of error, warn, info, debug, trace.
pub fn init(level: &str, format: &str) {
    // Our own crate logs at `level`; dependencies only from warn up, unless trace is asked for,
    // so a debug log stays about the exporter.
    let filter = match level {
        "trace" => EnvFilter::new("trace"),
        level => EnvFilter::new(format!("warn,codearts_repo_exporter={level}")),
    };
    let layer = match format {
        "json" => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
        _ => tracing_subscriber::fmt::layer()
            .event_format(tracing_logfmt::EventsFormatter::default())
            .fmt_fields(tracing_logfmt::FieldsFormatter::default())
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init();
}
