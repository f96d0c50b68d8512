//! Log lines captured in memory, for tests that install a subscriber of their own and read
//! what the code under test logged.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// A log writer that keeps everything written to it; clones share the text, so one clone goes
/// to the subscriber (`with_writer(move || captured.clone())`) and the test reads another.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything logged so far; fails the test unless it is UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).expect("log lines are UTF-8")
    }

    /// Everything logged since the last `take`, and forget it; fails the test unless it is
    /// UTF-8.
    pub fn take(&self) -> String {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap());
        String::from_utf8(bytes).expect("log lines are UTF-8")
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the process-wide log subscriber at trace, dependencies included, writing without
/// colours to the capture it returns — except the test's own mock servers, which print the
/// requests they receive (that is the upstream's side, not ours). Once per test binary.
pub fn capture_every_log_line() -> Captured {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace,wiremock=off"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    captured
}
