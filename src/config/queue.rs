//! Store-and-forward settings: the top-level `spool` (where queued deliveries wait), a route's
//! `delivery` (direct, or queued with its retry policy), and the `admin_token` that guards the
//! admin API's changes to the spool.

use std::path::PathBuf;
use std::time::Duration;

use super::error::{invalid, Problem, Problems};
use super::raw::{RawAdminToken, RawDelivery, RawSpool};
use super::values::{has_credentials, parse_positive_duration, parse_size, without_line_ending};

const TOP: &str = "top level";
const DEFAULT_MAX_BYTES: u64 = 1 << 30;
const DEFAULT_RETENTION: Duration = Duration::from_secs(14 * 24 * 3600);
const DEFAULT_SPOOL_DIR: &str = "/var/lib/hookguard/spool";
const DEFAULT_RETRY: [u64; 7] = [10, 60, 300, 900, 3600, 3 * 3600, 6 * 3600];
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(72 * 3600);
const DEFAULT_CONCURRENCY: usize = 4;

/// Where queued deliveries wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpoolLocation {
    /// The embedded store in this directory; only this process may open it.
    Directory(PathBuf),
    /// A Redis that replicas share, `redis://host:port/db`.
    Redis(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolSettings {
    pub location: SpoolLocation,
    /// Bodies and records; beyond it new deliveries get 503.
    pub max_bytes: u64,
    /// Dead letters older than this are removed.
    pub dead_letter_retention: Duration,
}

impl SpoolSettings {
    /// The store as `check` and the log name it: a Redis URL by its scheme only, so no password
    /// is ever printed.
    pub fn shown_location(&self) -> String {
        match &self.location {
            SpoolLocation::Directory(dir) => dir.display().to_string(),
            SpoolLocation::Redis(url) if has_credentials(url) => "redis://…".to_string(),
            SpoolLocation::Redis(url) => url.clone(),
        }
    }
}

/// How a route hands verified deliveries to the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryMode {
    /// Relay at once; the sender gets the app's answer.
    Direct,
    /// Spool, answer the sender, and deliver from the spool.
    Queue(QueuePolicy),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePolicy {
    /// Waits between attempts; the last one repeats.
    pub retry: Vec<Duration>,
    /// From receipt (or replay); then the delivery becomes a dead letter.
    pub max_age: Duration,
    /// Attempts to the app at once for this route.
    pub concurrency: usize,
    pub attempt_timeout: Duration,
}

impl QueuePolicy {
    /// The wait after the failed attempt numbered `attempt` (1 for the first).
    pub fn wait_after(&self, attempt: u32) -> Duration {
        let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        self.retry
            .get(index)
            .or(self.retry.last())
            .copied()
            .unwrap_or(Duration::from_secs(60))
    }
}

pub(super) fn spool(raw: Option<RawSpool>, problems: &mut Problems) -> Option<SpoolSettings> {
    let raw = raw?;
    let location = problems.keep(location(raw.store.as_deref()));
    let max_bytes = match &raw.max_bytes {
        Some(size) => problems.keep(
            parse_size(size)
                .and_then(at_least_a_mebibyte)
                .map_err(|m| invalid(TOP, "spool.max_bytes", m)),
        ),
        None => Some(DEFAULT_MAX_BYTES),
    };
    let retention = problems.keep(
        parse_positive_duration(raw.dead_letter_retention.as_deref(), DEFAULT_RETENTION)
            .map_err(|m| invalid(TOP, "spool.dead_letter_retention", m)),
    );
    Some(SpoolSettings {
        location: location?,
        max_bytes: max_bytes?,
        dead_letter_retention: retention?,
    })
}

/// A spool smaller than the largest body would refuse deliveries the route accepts.
fn at_least_a_mebibyte(bytes: u64) -> Result<u64, String> {
    if bytes < 1 << 20 {
        return Err("must be at least 1MiB".into());
    }
    Ok(bytes)
}

fn location(store: Option<&str>) -> Result<SpoolLocation, Problem> {
    let store = store.unwrap_or(DEFAULT_SPOOL_DIR);
    // rediss:// is not accepted: this build has no TLS to Redis, and the start would fail on it.
    if store.starts_with("redis://") {
        redis::Client::open(store)
            .map_err(|e| invalid(TOP, "spool.store", format!("not a usable redis URL: {e}")))?;
        return Ok(SpoolLocation::Redis(store.to_string()));
    }
    if store.contains("://") {
        let scheme = store.split_once("://").map_or("", |(scheme, _)| scheme);
        return Err(invalid(
            TOP,
            "spool.store",
            format!("{scheme}:// is neither a directory nor redis://host:port/db"),
        ));
    }
    let dir = PathBuf::from(store);
    if !dir.is_absolute() {
        return Err(invalid(
            TOP,
            "spool.store",
            "give an absolute directory, so the spool does not move with the working directory",
        ));
    }
    Ok(SpoolLocation::Directory(dir))
}

pub(super) fn admin_token(
    raw: Option<RawAdminToken>,
    env: &impl Fn(&str) -> Option<String>,
    watched: &mut Vec<PathBuf>,
) -> Result<Option<crate::verify::Secret>, Problem> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let bytes = match (raw.env, raw.file) {
        (Some(var), None) => env(&var)
            .ok_or_else(|| {
                invalid(
                    TOP,
                    "admin_token",
                    format!("environment variable {var} is not set"),
                )
            })?
            .into_bytes(),
        (None, Some(path)) => {
            let read = std::fs::read(&path).map_err(|e| {
                invalid(
                    TOP,
                    "admin_token",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            watched.push(path);
            read
        }
        _ => {
            return Err(invalid(
                TOP,
                "admin_token",
                "give exactly one of `env` or `file`",
            ))
        }
    };
    let token = without_line_ending(bytes);
    // Short tokens can be guessed over the network; the admin API can replay and delete.
    if token.len() < 16 {
        return Err(invalid(TOP, "admin_token", "must be at least 16 bytes"));
    }
    Ok(Some(crate::verify::Secret::new(token)))
}

/// A queue route whose `max_body` exceeds `spool.max_bytes` would answer 503 to a large enough
/// delivery forever, and the sender would retry it until it gave up.
pub(super) fn refuse_bodies_the_spool_cannot_hold(
    routes: &[super::Route],
    spool: Option<&SpoolSettings>,
    problems: &mut Problems,
) {
    let Some(spool) = spool else { return };
    for route in routes {
        if matches!(route.delivery, DeliveryMode::Queue(_)) && route.max_body > spool.max_bytes {
            problems.push(invalid(
                &format!("route {:?}", route.name),
                "max_body",
                "exceeds spool.max_bytes: such a delivery could never be queued",
            ));
        }
    }
}

/// A route's `delivery`, checked against whether a spool is configured and the route enforces.
pub(super) fn delivery(
    place: &str,
    raw: Option<RawDelivery>,
    spool: bool,
    enforce: bool,
    upstream_timeout: Duration,
) -> Result<DeliveryMode, Problem> {
    let Some(raw) = raw else {
        return Ok(DeliveryMode::Direct);
    };
    match raw.mode.as_deref() {
        None | Some("direct") => return direct_only(place, &raw),
        Some("queue") => {}
        Some(other) => {
            return Err(invalid(
                place,
                "delivery.mode",
                format!("{other:?} is neither direct nor queue"),
            ))
        }
    }
    if !spool {
        return Err(invalid(
            place,
            "delivery.mode",
            "queue needs a top-level `spool` section saying where deliveries wait",
        ));
    }
    if !enforce {
        return Err(invalid(
            place,
            "delivery.mode",
            "queue with enforce: false would spool forgeries; shadow mode is direct only",
        ));
    }
    policy(place, raw, upstream_timeout).map(DeliveryMode::Queue)
}

/// Queue keys on a direct route would silently do nothing.
fn direct_only(place: &str, raw: &RawDelivery) -> Result<DeliveryMode, Problem> {
    let queue_keys = raw.retry.is_some()
        || raw.max_age.is_some()
        || raw.concurrency.is_some()
        || raw.attempt_timeout.is_some();
    if queue_keys {
        return Err(invalid(
            place,
            "delivery",
            "retry, max_age, concurrency and attempt_timeout apply only to mode: queue",
        ));
    }
    Ok(DeliveryMode::Direct)
}

fn policy(
    place: &str,
    raw: RawDelivery,
    upstream_timeout: Duration,
) -> Result<QueuePolicy, Problem> {
    let retry = match raw.retry {
        None => DEFAULT_RETRY
            .iter()
            .map(|s| Duration::from_secs(*s))
            .collect(),
        Some(waits) if waits.is_empty() => {
            return Err(invalid(place, "delivery.retry", "give at least one wait"))
        }
        Some(waits) => waits
            .iter()
            .map(|wait| parse_positive_duration(Some(wait), Duration::ZERO))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| invalid(place, "delivery.retry", m))?,
    };
    let max_age = parse_positive_duration(raw.max_age.as_deref(), DEFAULT_MAX_AGE)
        .map_err(|m| invalid(place, "delivery.max_age", m))?;
    let attempt_timeout = parse_positive_duration(raw.attempt_timeout.as_deref(), upstream_timeout)
        .map_err(|m| invalid(place, "delivery.attempt_timeout", m))?;
    let concurrency = match raw.concurrency {
        None => DEFAULT_CONCURRENCY,
        Some(n @ 1..=1024) => n,
        Some(_) => {
            return Err(invalid(
                place,
                "delivery.concurrency",
                "must be between 1 and 1024",
            ))
        }
    };
    Ok(QueuePolicy {
        retry,
        max_age,
        concurrency,
        attempt_timeout,
    })
}
