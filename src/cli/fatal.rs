//! How `run` reports the error that stops it from starting: as one log line in the configured JSON
//! layout when the config asks for `log.format: json`, so a log pipeline that parses every line sees
//! it; otherwise as plain text on standard error.

use std::path::Path;

use hookguard::config::{Config, LogFormat};
use hookguard::telemetry::logformat::LineFormat;

/// Writes `error` for someone reading `run`'s output, in the format `config_path` asks for.
pub fn report(config_path: &Path, error: &anyhow::Error) {
    match Config::declared_log_format(config_path) {
        Some(LogFormat::Json) => log_json(error),
        Some(LogFormat::Text) | None => eprintln!("hookguard: {error:#}"),
    }
}

/// One `ERROR` line through the same formatter as every other JSON line. It has its own subscriber
/// without a level filter: `log.level: off` or `RUST_LOG` must not hide why the process exited.
fn log_json(error: &anyhow::Error) {
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(std::io::stderr)
        .event_format(LineFormat::Json)
        .finish();
    let error = format!("{error:#}");
    tracing::subscriber::with_default(subscriber, || {
        tracing::error!(%error, "cannot start");
    });
}
