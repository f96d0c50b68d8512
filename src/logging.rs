//! Log set-up: logfmt or JSON on stderr, at the level of `--log.level` — or of the config's
//! `log.level` while it is set, which a reload can change (a reload without it goes back to the
//! flag's level).

use std::sync::{Mutex, OnceLock};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Layer, Registry};

/// A log level, as `--log.level` and the config's `log.level` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    /// Every name, least verbose first.
    pub const NAMES: [&'static str; 5] = ["error", "warn", "info", "debug", "trace"];

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "error" => Some(Self::Error),
            "warn" => Some(Self::Warn),
            "info" => Some(Self::Info),
            "debug" => Some(Self::Debug),
            "trace" => Some(Self::Trace),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }

    /// Our own crate logs at this level; dependencies only from warn up, unless trace is asked
    /// for, so a debug log stays about the exporter.
    fn filter(self) -> EnvFilter {
        match self {
            Self::Trace => EnvFilter::new("trace"),
            level => EnvFilter::new(format!("warn,codearts_repo_exporter={}", level.as_str())),
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The running subscriber's level, and the flag's to return to.
struct Control {
    handle: reload::Handle<EnvFilter, Registry>,
    flag: Level,
    current: Mutex<Level>,
}

static CONTROL: OnceLock<Control> = OnceLock::new();

/// Installs the global subscriber, writing to stderr. `format` is `logfmt` or `json`.
pub fn init(level: Level, format: &str) {
    init_with_writer(level, format, std::io::stderr);
}

/// Like [`init`], writing to `writer` (tests capture the log this way).
pub fn init_with_writer<W>(level: Level, format: &str, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let (filter, handle) = reload::Layer::new(level.filter());
    let layer = match format {
        "json" => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(writer)
            .boxed(),
        _ => tracing_subscriber::fmt::layer()
            .event_format(tracing_logfmt::EventsFormatter::default())
            .fmt_fields(tracing_logfmt::FieldsFormatter::default())
            .with_writer(writer)
            .boxed(),
    };
    if tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init()
        .is_ok()
    {
        let _ = CONTROL.set(Control {
            handle,
            flag: level,
            current: Mutex::new(level),
        });
    }
}

/// Logs at `level` from now on, or at the `--log.level` of [`init`] when `None` (the config's
/// `log.level` is absent). Does nothing when [`init`] did not install the subscriber (tests with
/// their own). The change is logged at `info`, where the more verbose of the two levels shows it.
pub fn set_config_level(level: Option<Level>) {
    let Some(control) = CONTROL.get() else {
        return;
    };
    let next = level.unwrap_or(control.flag);
    let mut current = control.current.lock().unwrap_or_else(|e| e.into_inner());
    if *current == next {
        return;
    }
    let source = if level.is_some() {
        "log.level"
    } else {
        "--log.level"
    };
    let previous = *current;
    let announce = || tracing::info!(log_level = %next, %previous, source, "log level changed");
    if next < previous {
        announce();
    }
    match control.handle.reload(next.filter()) {
        Ok(()) => *current = next,
        Err(err) => {
            tracing::error!(error = %err, "cannot change the log level");
            return;
        }
    }
    if next > previous {
        announce();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order_by_verbosity() {
        for name in Level::NAMES {
            assert_eq!(Level::parse(name).map(Level::as_str), Some(name));
        }
        assert!(Level::Error < Level::Warn && Level::Debug < Level::Trace);
        assert_eq!(Level::parse("loud"), None);
        assert_eq!(Level::parse("INFO"), None);
    }
}
