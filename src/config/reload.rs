//! Hot reload: on SIGHUP, and when the config file or any file it names (secrets, certificates)
//! changes. Kubernetes swaps ConfigMap and Secret volumes by renaming a `..data` symlink, which an
//! inotify watch on the file itself misses; hashing the files' contents every second sees every
//! kind of swap, costs little for files this small, and needs no extra crate.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::live::{LiveConfig, RestartOnly};
use super::{Config, ConfigError};
use crate::telemetry::metrics::Metrics;

/// How often files are checked; a change is in force within two of these.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Each file's content digest, `None` where it cannot be read right now.
fn fingerprint(files: &[PathBuf]) -> Vec<Option<[u8; 32]>> {
    files
        .iter()
        .map(|path| {
            std::fs::read(path)
                .ok()
                .map(|bytes| Sha256::digest(bytes).into())
        })
        .collect()
}

/// Why a new config was not put in force.
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("{0}")]
    Invalid(ConfigError),
    #[error("{0}")]
    RestartOnly(RestartOnly),
}

/// Loads and validates `path` and puts it in force, or keeps the old config and says why.
pub fn reload(path: &Path, live: &LiveConfig, metrics: &Metrics, cause: &str) -> bool {
    let outcome = Config::load(path)
        .map_err(Refused::Invalid)
        .and_then(|config| {
            let warnings = config.warnings.clone();
            live.replace(config)
                .map(|()| warnings)
                .map_err(Refused::RestartOnly)
        });
    match outcome {
        Ok(warnings) => {
            for warning in warnings {
                tracing::warn!("{warning}");
            }
            metrics.reload(true);
            tracing::info!(cause, "config reloaded");
            true
        }
        Err(error) => {
            metrics.reload(false);
            tracing::error!(cause, %error, "config reload refused; the previous config keeps serving");
            false
        }
    }
}

/// Watches for SIGHUP and file changes until the process ends.
/// SIGHUP is taken over when this is called, not when the future first runs: a SIGHUP that came
/// between "listening" and the task's first poll would otherwise end the process, SIGHUP's default.
pub fn watch(
    path: PathBuf,
    live: Arc<LiveConfig>,
    metrics: Arc<Metrics>,
) -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let hangup = match signal(SignalKind::hangup()) {
        Ok(stream) => Some(stream),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; reloading on file changes only");
            None
        }
    };
    watch_from(path, live, metrics, hangup)
}

async fn watch_from(
    path: PathBuf,
    live: Arc<LiveConfig>,
    metrics: Arc<Metrics>,
    mut hangup: Option<tokio::signal::unix::Signal>,
) {
    let mut files = live.load().config.watched_files.clone();
    let mut seen = fingerprint(&files);
    let mut ticks = tokio::time::interval(POLL_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let cause = tokio::select! {
            Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => None } } => "SIGHUP",
            _ = ticks.tick() => {
                if fingerprint(&files) == seen {
                    continue;
                }
                "file change"
            }
        };
        reload(&path, &live, &metrics, cause);
        // The new config may name other files; a failed reload keeps watching the old set.
        files = live.load().config.watched_files.clone();
        seen = fingerprint(&files);
    }
}
