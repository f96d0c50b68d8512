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
