//! A log writer that batches lines per worker thread, as nginx's `access_log ... buffer=64k flush=1s`
//! does: one write for many lines instead of one per request. A worker's buffer is flushed when the
//! worker goes idle (so a quiet proxy logs at once), when it fills, when a line finds it a second
//! old, and when the thread stops. Threads that never enabled buffering write straight through.

use std::cell::RefCell;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

const CAPACITY: usize = 64 * 1024;
const MAX_AGE: Duration = Duration::from_secs(1);

struct Buffer {
    bytes: Vec<u8>,
    oldest: Option<Instant>,
}

thread_local! {
    static BUFFER: RefCell<Option<Buffer>> = const { RefCell::new(None) };
}

/// Turns buffering on for the calling thread (a runtime worker's `on_thread_start`).
pub fn enable_on_this_thread() {
    BUFFER.with(|cell| {
        *cell.borrow_mut() = Some(Buffer {
            bytes: Vec::with_capacity(CAPACITY),
            oldest: None,
        });
    });
}

/// Writes out whatever the calling thread holds (`on_thread_park`, `on_thread_stop`).
pub fn flush_this_thread() {
    BUFFER.with(|cell| {
        if let Some(buffer) = cell.borrow_mut().as_mut() {
            write_out(buffer);
        }
    });
}

fn write_out(buffer: &mut Buffer) {
    if !buffer.bytes.is_empty() {
        // A failed write to stderr has nowhere better to be reported; the lines are dropped.
        let _ = io::stderr().lock().write_all(&buffer.bytes);
        buffer.bytes.clear();
    }
    buffer.oldest = None;
}

/// The `MakeWriter` handed to tracing-subscriber.
#[derive(Clone, Copy, Default)]
pub struct BufferedStderr;

pub struct LineWriter;

impl<'a> MakeWriter<'a> for BufferedStderr {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter
    }
}

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let buffered = BUFFER.with(|cell| {
            let mut cell = cell.borrow_mut();
            let Some(buffer) = cell.as_mut() else {
                return false;
            };
            let now = Instant::now();
            buffer.bytes.extend_from_slice(bytes);
            let oldest = *buffer.oldest.get_or_insert(now);
            if buffer.bytes.len() >= CAPACITY || now.duration_since(oldest) >= MAX_AGE {
                write_out(buffer);
            }
            true
        });
        if !buffered {
            io::stderr().lock().write_all(bytes)?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
