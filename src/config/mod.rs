//! The YAML configuration: raw serde shapes, then a validated [`Config`] in which every value is
//! already parsed, every secret loaded and every key prepared. Any doubt is an error, never a
//! default, and every problem in the file is reported at once.
//!
//! - [`raw`](self::raw): the file as written.
//! - [`settings`](self::settings): the top-level keys.
//! - [`route`](self::route) and [`verifier`](self::verifier): one route, and what it verifies with.
//! - [`values`](self::values): parsers for single values (sizes, durations, methods, URLs, secrets).
//! - [`error`](self::error): `ConfigError`, with every problem and where it is.
//! - [`live`]: the config in force, swapped whole on reload, and what only a restart may change.
//! - [`reload`]: SIGHUP and file watching; a bad config never replaces a good one.

mod error;
pub mod live;
mod queue;
mod raw;
pub mod reload;
mod route;
mod settings;
mod values;
mod verifier;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::uri::{Authority, Scheme as UriScheme};
use http::Method;
use serde::Deserialize;

use crate::clientip::Cidr;
use crate::ratelimit::RateLimiter;
use crate::routing::{NonCanonical, PathPattern, RouteIndex};
use crate::verify::handshake::{Handshake, VerifyToken};
use crate::verify::{Field, Verifier};

use self::error::Problems;
pub use self::error::{ConfigError, Problem};
pub use self::live::{Live, LiveConfig, RestartOnly};
pub use self::queue::{DeliveryMode, QueuePolicy, SpoolLocation, SpoolSettings};
use self::raw::RawConfig;
pub use self::values::without_line_ending;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unmatched {
    #[default]
    Reject,
    Forward,
}

/// An `http://host:port` upstream. Only scheme and authority: the request's own path and query are
/// appended unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub scheme: UriScheme,
    pub authority: Authority,
}

impl Upstream {
    /// Whether the app is reachable only from this host (or pod): 127.0.0.0/8, ::1 or localhost.
    pub fn is_loopback(&self) -> bool {
        let host = self
            .authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority)
    }
}

#[derive(Debug)]
pub struct Route {
    pub name: String,
    /// The name as a shared metric label, made once here rather than per request.
    pub label: crate::telemetry::metrics::Label,
    /// The name as the `X-Hookguard-Route` value, likewise made once.
    pub header_value: http::HeaderValue,
    pub pattern: PathPattern,
    pub methods: Vec<Method>,
    pub verifier: Verifier,
    /// What `check` prints for the scheme: a preset name or the explicit scheme.
    pub scheme_label: String,
    pub secret_count: usize,
    pub upstream: Upstream,
    pub max_body: u64,
    /// `false` is shadow mode: verify and report, but forward everything.
    pub enforce: bool,
    /// Forward only these event types; the rest are answered 200 and dropped.
    pub events: Option<Vec<String>>,
    pub event_field: Option<Field>,
    pub delivery_id_field: Option<Field>,
    pub handshake: Handshake,
    /// The token a hub challenge must carry (Meta); only on routes whose handshake needs one.
    pub verify_token: Option<VerifyToken>,
    pub public_url: Option<String>,
    /// Only these client addresses may use the route; `None`: anyone.
    pub allow_ips: Option<Vec<Cidr>>,
    pub rate_limit: Option<RateLimiter>,
    /// Remember deliveries the app took for this long; `None`: no replay protection on this route.
    pub dedup_ttl: Option<Duration>,
    pub delivery: DeliveryMode,
}

/// Where deliveries are remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DedupStore {
    Memory { max_entries: usize },
    Redis { url: String },
}

impl Route {
    /// The value of an `Allow` header for a 405.
    pub fn allow_header(&self) -> String {
        let names: Vec<&str> = self.methods.iter().map(Method::as_str).collect();
        names.join(", ")
    }
}

/// Bounds on what one client or one slow app can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A connection's first bytes, and each request head from its first byte, must arrive within this.
    pub header_timeout: Duration,
    /// A keep-alive connection with no request under way is closed after this.
    pub idle_timeout: Duration,
    /// The whole body must be in within this, or 408.
    pub body_timeout: Duration,
    /// The app must answer (its response head) within this, or 504.
    pub upstream_timeout: Duration,
    /// The longest wait between two writes to the client (nginx's `send_timeout`); then the client
    /// is cut off and the app's connection freed.
    pub send_timeout: Duration,
    /// Connections served at once; beyond it new ones wait in the kernel's accept queue.
    pub max_connections: usize,
    pub h2_max_concurrent_streams: u32,
    /// Idle keep-alive connections each worker keeps per upstream; 0 closes each after its
    /// response. Read at start only.
    pub upstream_idle_per_worker: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(10),
            upstream_timeout: Duration::from_secs(30),
            send_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            h2_max_concurrent_streams: 100,
            upstream_idle_per_worker: 256,
        }
    }
}

#[derive(Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub upstream: Upstream,
    /// `/livez`, `/readyz`, `/metrics`; `None`: no admin listener.
    pub admin: Option<SocketAddr>,
    pub unmatched: Unmatched,
    pub shutdown_grace: Duration,
    pub log_format: LogFormat,
    pub log_level: String,
    /// Peers whose X-Forwarded-For is believed when finding the client address.
    pub trusted_proxies: Vec<Cidr>,
    pub dedup_store: DedupStore,
    /// The listener's TLS; `None`: plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// For https upstreams: the webpki roots plus `upstream_ca`.
    pub upstream_tls: Arc<rustls::ClientConfig>,
    pub max_body: u64,
    pub limits: Limits,
    /// Where queued deliveries wait; `None`: no route may queue.
    pub spool: Option<SpoolSettings>,
    /// Guards the admin API's changes (and its reads when `admin` is not loopback).
    pub admin_token: Option<crate::verify::Secret>,
    /// How many recent requests the admin journal keeps; read at start only.
    pub admin_recent: usize,
    /// Worker threads as written; `None`: one per available core. Read at start only.
    pub workers: Option<usize>,
    pub routes: Vec<Route>,
    /// `routes` by path, built with them so that a reload, which builds a new `Config`, rebuilds it.
    route_index: RouteIndex,
    /// Things that are allowed but unwise, such as literal secrets; `check` and `run` print them.
    pub warnings: Vec<String>,
    /// Every file this config was built from (itself, secrets, certificates), for reload.
    pub watched_files: Vec<PathBuf>,
}

impl Config {
    /// How many worker threads to start: `workers`, or one per core this process may use
    /// (`available_parallelism` honours the cgroup CPU quota, so a pod's CPU limit counts).
    pub fn worker_count(&self) -> usize {
        self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        })
    }

    /// The route a request path names, as the proxy routes it: see [`RouteIndex::lookup`].
    pub fn route_for(&self, path: &str) -> Result<Option<&Route>, NonCanonical> {
        self.route_index.lookup(&self.routes, |r| &r.pattern, path)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        let mut config = Config::from_yaml(&text, |name| std::env::var(name).ok())?;
        config.watched_files.insert(0, path.to_path_buf());
        Ok(config)
    }

    /// The `log.format` the file at `path` asks for, read on its own and leniently, so that a config
    /// refused for another reason can still have its refusal logged as asked. `None` when the file
    /// cannot be read or says nothing readable about it.
    pub fn declared_log_format(path: &Path) -> Option<LogFormat> {
        #[derive(Deserialize)]
        struct LogOnly {
            log: Option<LogFormatOnly>,
        }
        #[derive(Deserialize)]
        struct LogFormatOnly {
            format: Option<LogFormat>,
        }
        let text = std::fs::read_to_string(path).ok()?;
        serde_yaml::from_str::<LogOnly>(&text).ok()?.log?.format
    }

    /// Parses and validates YAML; `env` looks up environment variables, so tests can pass their own.
    /// Validation goes on past each problem, and the error names all of them.
    pub fn from_yaml(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let raw: RawConfig = serde_yaml::from_str(text).map_err(ConfigError::Syntax)?;
        let mut problems = Problems::default();
        let mut watched_files = Vec::new();
        let listen = problems.keep(settings::listen(raw.listen.as_deref()));
        let upstream = problems.keep(settings::upstream(raw.upstream.as_deref()));
        let admin = problems.keep(settings::admin(raw.admin.as_deref()));
        let shutdown_grace = problems.keep(settings::shutdown_grace(raw.shutdown_grace.as_deref()));
        let log_level = problems.keep(settings::log_level(raw.log.level));
        let trusted_proxies = problems.keep(settings::trusted_proxies(&raw.trusted_proxies));
        let dedup_store = problems.keep(settings::dedup_store(&raw.dedup));
        let tls = problems.keep(settings::tls(raw.tls, &mut watched_files));
        let upstream_tls =
            problems.keep(settings::upstream_tls(raw.upstream_ca, &mut watched_files));
        let limits = settings::limits(&raw.limits, &mut problems);
        let max_body = problems.keep(settings::max_body(&raw.limits));
        let spool = queue::spool(raw.spool, &mut problems);
        let admin_token = problems.keep(queue::admin_token(
            raw.admin_token,
            &env,
            &mut watched_files,
        ));
        let admin_recent = problems.keep(settings::admin_recent(raw.admin_recent));
        let workers = problems.keep(settings::workers(raw.workers));
        let mut warnings = Vec::new();
        let defaults = route::Defaults {
            upstream: upstream.as_ref(),
            max_body,
            spool: spool.is_some(),
            upstream_timeout: limits.upstream_timeout,
        };
        let routes = build_routes(
            raw.routes,
            &defaults,
            &env,
            &mut warnings,
            &mut problems,
            &mut watched_files,
        );
        queue::refuse_bodies_the_spool_cannot_hold(&routes, spool.as_ref(), &mut problems);
        problems.into_result()?;
        let (
            Some(listen),
            Some(upstream),
            Some(admin),
            Some(shutdown_grace),
            Some(log_level),
            Some(trusted_proxies),
            Some(dedup_store),
            Some(tls),
            Some(upstream_tls),
            Some(max_body),
            Some(admin_token),
            Some(admin_recent),
            Some(workers),
        ) = (
            listen,
            upstream,
            admin,
            shutdown_grace,
            log_level,
            trusted_proxies,
            dedup_store,
            tls,
            upstream_tls,
            max_body,
            admin_token,
            admin_recent,
            workers,
        )
        else {
            return Err(incomplete());
        };
        warnings.extend(loopback_warnings(&upstream, &routes));
        Ok(Config {
            listen,
            upstream,
            admin,
            trusted_proxies,
            dedup_store,
            unmatched: raw.unmatched,
            shutdown_grace,
            log_format: raw.log.format,
            log_level,
            tls,
            upstream_tls,
            max_body,
            limits,
            spool,
            admin_token,
            admin_recent,
            workers,
            route_index: RouteIndex::build(&routes, |r| &r.pattern),
            routes,
            warnings,
            watched_files,
        })
    }
}

/// Every value is `Some` when no problem was kept; should that ever not hold, the config is
/// refused rather than filled with a guess.
fn incomplete() -> ConfigError {
    ConfigError::Invalid(vec![Problem {
        place: "top level".into(),
        key: "-".into(),
        message: "incomplete after validation".into(),
    }])
}

/// Every route, each duplicate path or name refused. Without a valid default upstream or
/// `max_body` the routes are still checked, against stand-ins, so their own problems show too.
fn build_routes(
    raw_routes: Vec<raw::RawRoute>,
    given: &route::Defaults<'_>,
    env: &impl Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
    problems: &mut Problems,
    watched_files: &mut Vec<PathBuf>,
) -> Vec<Route> {
    if raw_routes.is_empty() {
        problems.push(error::invalid(
            "top level",
            "routes",
            "at least one route is required",
        ));
    }
    for raw_route in &raw_routes {
        watched_files.extend(raw_route.secrets.iter().filter_map(|s| s.file.clone()));
    }
    let stand_in = Upstream {
        scheme: UriScheme::HTTP,
        authority: Authority::from_static("127.0.0.1:1"),
    };
    let defaults = route::Defaults {
        upstream: Some(given.upstream.unwrap_or(&stand_in)),
        max_body: Some(given.max_body.unwrap_or(0)),
        ..*given
    };
    let mut routes: Vec<Route> = Vec::with_capacity(raw_routes.len());
    for (index, raw_route) in raw_routes.into_iter().enumerate() {
        let named = raw_route.name.is_some();
        let Some(route) = route::build(index, raw_route, &defaults, env, warnings, problems) else {
            continue;
        };
        match route::refuse_duplicate(&routes, &route, index, named) {
            Ok(()) => routes.push(route),
            Err(problem) => problems.push(problem),
        }
    }
    routes
}

/// An app reachable from outside the pod can be reached around hookguard.
fn loopback_warnings(upstream: &Upstream, routes: &[Route]) -> Vec<String> {
    let mut warnings = Vec::new();
    let targets = std::iter::once(upstream).chain(routes.iter().map(|r| &r.upstream));
    for target in targets {
        if !target.is_loopback() {
            let warning = format!(
                "upstream {target} is not a loopback address: in a sidecar, bind the app to 127.0.0.1 so nothing reaches it around hookguard"
            );
            if !warnings.contains(&warning) {
                warnings.push(warning);
            }
        }
    }
    warnings
}

#[cfg(test)]
mod tests;
