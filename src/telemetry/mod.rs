//! What hookguard tells operators: the Prometheus families, and the log lines with their batching
//! and layouts.
//!
//! - [`metrics`]: the Prometheus families; labels come from the config or fixed sets, never a path.
//! - [`process`]: the standard `process_*` families, read from /proc/self on each scrape.
//! - [`logbuffer`]: per-thread batching of log lines, so logging costs no write per request.
//! - [`logformat`]: the text and JSON line layouts, cheap enough to run on every request.

pub mod logbuffer;
pub mod logformat;
pub mod metrics;
pub mod process;
