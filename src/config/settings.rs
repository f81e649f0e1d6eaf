//! The top-level settings: addresses, the app, logging, trusted proxies, the dedup store, TLS and
//! limits. Each reports its own problem, so one bad key does not hide the next.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::error::{invalid, Problem, Problems};
use super::raw::{RawDedupStore, RawLimits, RawTls};
use super::values::{has_credentials, parse_positive_duration, parse_size, parse_upstream};
use super::{DedupStore, Limits, Upstream};
use crate::clientip::Cidr;

const TOP: &str = "top level";
const DEFAULT_LISTEN: &str = "0.0.0.0:8080";
const DEFAULT_MAX_BODY: u64 = 1024 * 1024;
const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

pub(super) fn listen(text: Option<&str>) -> Result<SocketAddr, Problem> {
    text.unwrap_or(DEFAULT_LISTEN)
        .parse::<SocketAddr>()
        .map_err(|e| {
            invalid(
                TOP,
                "listen",
                format!("expected an address like 0.0.0.0:8080 ({e})"),
            )
        })
}

pub(super) fn admin(text: Option<&str>) -> Result<Option<SocketAddr>, Problem> {
    text.map(|text| text.parse::<SocketAddr>())
        .transpose()
        .map_err(|e| {
            invalid(
                TOP,
                "admin",
                format!("expected an address like 127.0.0.1:9090 ({e})"),
            )
        })
}

/// The admin journal's default size: enough for the inspector's view, a few hundred KB at most.
const DEFAULT_ADMIN_RECENT: usize = 1000;
/// Above this the journal stops being "recent" and starts being a memory cost worth a real store.
const MAX_ADMIN_RECENT: usize = 100_000;

pub(super) fn admin_recent(value: Option<usize>) -> Result<usize, Problem> {
    match value {
        None => Ok(DEFAULT_ADMIN_RECENT),
        Some(n) if (1..=MAX_ADMIN_RECENT).contains(&n) => Ok(n),
        Some(_) => Err(invalid(
            TOP,
            "admin_recent",
            format!("must be from 1 to {MAX_ADMIN_RECENT}"),
        )),
    }
}

/// More threads than this is a typo, not a machine: each worker holds a runtime and its own
/// connections to the app.
const MAX_WORKERS: usize = 1024;

pub(super) fn workers(value: Option<usize>) -> Result<Option<usize>, Problem> {
    match value {
        None => Ok(None),
        Some(n) if (1..=MAX_WORKERS).contains(&n) => Ok(Some(n)),
        Some(_) => Err(invalid(
            TOP,
            "workers",
            format!("must be from 1 to {MAX_WORKERS}; leave it out for one per available core"),
        )),
    }
}

/// Past this, idle connections per worker and upstream would outnumber the ports a host has.
const MAX_UPSTREAM_IDLE_PER_WORKER: usize = 65_536;

pub(super) fn upstream(text: Option<&str>) -> Result<Upstream, Problem> {
    let text = text.ok_or_else(|| {
        invalid(
            TOP,
            "upstream",
            "required: the URL of the app, such as http://127.0.0.1:3000",
        )
    })?;
    parse_upstream(text).map_err(|m| invalid(TOP, "upstream", m))
}

pub(super) fn shutdown_grace(text: Option<&str>) -> Result<Duration, Problem> {
    match text {
        None => Ok(DEFAULT_SHUTDOWN_GRACE),
        Some(text) => humantime::parse_duration(text).map_err(|e| {
            invalid(
                TOP,
                "shutdown_grace",
                format!("{text:?} is not a duration such as 20s ({e})"),
            )
        }),
    }
}

pub(super) fn log_level(level: Option<String>) -> Result<String, Problem> {
    let level = level.unwrap_or_else(|| "info".to_string());
    match level.as_str() {
        "trace" | "debug" | "info" | "warn" | "error" | "off" => Ok(level),
        _ => Err(invalid(
            TOP,
            "log.level",
            format!("{level:?} is not one of trace, debug, info, warn, error, off"),
        )),
    }
}

pub(super) fn trusted_proxies(texts: &[String]) -> Result<Vec<Cidr>, Problem> {
    texts
        .iter()
        .map(|text| Cidr::parse(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| invalid(TOP, "trusted_proxies", m))
}

pub(super) fn dedup_store(raw: &RawDedupStore) -> Result<DedupStore, Problem> {
    match raw.store.as_deref() {
        None | Some("memory") => {
            let max_entries = raw.max_entries.unwrap_or(100_000);
            if max_entries == 0 {
                return Err(invalid(TOP, "dedup.max_entries", "must be at least 1"));
            }
            Ok(DedupStore::Memory { max_entries })
        }
        Some(url) if url.starts_with("redis://") => {
            if raw.max_entries.is_some() {
                return Err(invalid(
                    TOP,
                    "dedup.max_entries",
                    "bounds the memory store; Redis bounds itself",
                ));
            }
            crate::dedup::RedisStore::new(url).map_err(|m| invalid(TOP, "dedup.store", m))?;
            Ok(DedupStore::Redis {
                url: url.to_string(),
            })
        }
        // A value with a password in it is named by its scheme only.
        Some(other) => {
            let shown = if has_credentials(other) {
                other.split_once("://").map_or("", |(scheme, _)| scheme)
            } else {
                other
            };
            Err(invalid(
                TOP,
                "dedup.store",
                format!("{shown:?} is neither memory nor redis://host:port/db"),
            ))
        }
    }
}

/// The listener's certificate and key, and the files to watch for their renewal.
pub(super) fn tls(
    raw: Option<RawTls>,
    watched: &mut Vec<PathBuf>,
) -> Result<Option<Arc<rustls::ServerConfig>>, Problem> {
    let Some(paths) = raw else {
        return Ok(None);
    };
    let config =
        crate::tls::server_config(&paths.cert, &paths.key).map_err(|m| invalid(TOP, "tls", m))?;
    watched.extend([paths.cert, paths.key]);
    Ok(Some(config))
}

pub(super) fn upstream_tls(
    ca: Option<PathBuf>,
    watched: &mut Vec<PathBuf>,
) -> Result<Arc<rustls::ClientConfig>, Problem> {
    let config =
        crate::tls::client_config(ca.as_deref()).map_err(|m| invalid(TOP, "upstream_ca", m))?;
    watched.extend(ca);
    Ok(config)
}

/// Every limit; a bad one is reported and its default stands in, so the others are still checked.
pub(super) fn limits(raw: &RawLimits, problems: &mut Problems) -> Limits {
    let defaults = Limits::default();
    let mut duration = |key: &str, text: &Option<String>, default: Duration| {
        let parsed = parse_positive_duration(text.as_deref(), default)
            .map_err(|m| invalid(TOP, format!("limits.{key}"), m));
        problems.keep(parsed).unwrap_or(default)
    };
    let header_timeout = duration(
        "header_timeout",
        &raw.header_timeout,
        defaults.header_timeout,
    );
    let idle_timeout = duration("idle_timeout", &raw.idle_timeout, defaults.idle_timeout);
    let body_timeout = duration("body_timeout", &raw.body_timeout, defaults.body_timeout);
    let upstream_timeout = duration(
        "upstream_timeout",
        &raw.upstream_timeout,
        defaults.upstream_timeout,
    );
    let send_timeout = duration("send_timeout", &raw.send_timeout, defaults.send_timeout);
    let mut at_least_one = |key: &str, value: Option<usize>, default: usize| match value {
        Some(0) => {
            problems.push(invalid(TOP, format!("limits.{key}"), "must be at least 1"));
            default
        }
        Some(n) => n,
        None => default,
    };
    let max_connections = at_least_one(
        "max_connections",
        raw.max_connections,
        defaults.max_connections,
    );
    let streams = at_least_one(
        "h2_max_concurrent_streams",
        raw.h2_max_concurrent_streams.map(|n| n as usize),
        defaults.h2_max_concurrent_streams as usize,
    );
    let upstream_idle_per_worker = match raw.upstream_idle_per_worker {
        Some(n) if n > MAX_UPSTREAM_IDLE_PER_WORKER => {
            problems.push(invalid(
                TOP,
                "limits.upstream_idle_per_worker",
                format!("must be from 0 to {MAX_UPSTREAM_IDLE_PER_WORKER}"),
            ));
            defaults.upstream_idle_per_worker
        }
        Some(n) => n,
        None => defaults.upstream_idle_per_worker,
    };
    Limits {
        header_timeout,
        idle_timeout,
        body_timeout,
        upstream_timeout,
        send_timeout,
        max_connections,
        h2_max_concurrent_streams: u32::try_from(streams)
            .unwrap_or(defaults.h2_max_concurrent_streams),
        upstream_idle_per_worker,
    }
}

pub(super) fn max_body(raw: &RawLimits) -> Result<u64, Problem> {
    match &raw.max_body {
        Some(size) => parse_size(size).map_err(|m| invalid(TOP, "limits.max_body", m)),
        None => Ok(DEFAULT_MAX_BODY),
    }
}
