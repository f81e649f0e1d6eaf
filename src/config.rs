//! The YAML configuration: raw serde structs, then a validated [`Config`] in which every value is
//! already parsed, every secret loaded and every key prepared. Any doubt is an error, never a default.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::uri::{Authority, Scheme as UriScheme};
use http::{HeaderName, Method, Uri};
use serde::Deserialize;

use crate::clientip::Cidr;
use crate::ratelimit::RateLimiter;
use crate::routing::PathPattern;
use crate::verify::handshake::Handshake;
use crate::verify::presets::{self, Spec};
use crate::verify::scheme::{Part, Template, TimestampSource};
use crate::verify::spec::{HeaderSetSpec, SchemeSpec, TimestampSpec};
use crate::verify::{
    Algorithm, Encoding, Field, KeyFormat, Scheme, Secret, SignatureFormat, SignatureVerifier,
    TimeUnit, TokenSource, TokenVerifier, Verifier,
};

const DEFAULT_LISTEN: &str = "0.0.0.0:8080";
const DEFAULT_MAX_BODY: u64 = 1024 * 1024;
const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
/// How long before a route's last secret stops matching `check` and `run` start to say so.
const EXPIRY_NOTICE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Each message already carries its cause's text, so no variant names a `source`: anyhow's `{:#}`
/// would print that cause a second time.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("config is not valid YAML for hookguard: {0}")]
    Syntax(serde_yaml::Error),
    #[error("{place}: key `{key}`: {message}")]
    Invalid {
        place: String,
        key: String,
        message: String,
    },
}

fn invalid(place: &str, key: impl Into<String>, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        place: place.to_string(),
        key: key.into(),
        message: message.to_string(),
    }
}

// ---- raw, as written ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    upstream: Option<String>,
    admin: Option<String>,
    #[serde(default)]
    unmatched: Unmatched,
    shutdown_grace: Option<String>,
    #[serde(default)]
    log: RawLog,
    tls: Option<RawTls>,
    upstream_ca: Option<PathBuf>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    #[serde(default)]
    dedup: RawDedupStore,
    #[serde(default)]
    limits: RawLimits,
    routes: Vec<RawRoute>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    #[serde(default)]
    format: LogFormat,
    level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDedupStore {
    store: Option<String>,
    max_entries: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRouteDedup {
    ttl: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_body: Option<RawSize>,
    header_timeout: Option<String>,
    idle_timeout: Option<String>,
    body_timeout: Option<String>,
    upstream_timeout: Option<String>,
    send_timeout: Option<String>,
    max_connections: Option<usize>,
    h2_max_concurrent_streams: Option<u32>,
}

/// A size as a bare byte count or a string with a binary suffix (`512KiB`, `1MiB`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawSize {
    Bytes(u64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    path: String,
    name: Option<String>,
    provider: Option<String>,
    verify: Option<RawVerify>,
    #[serde(default)]
    secrets: Vec<RawSecret>,
    methods: Option<Vec<String>>,
    upstream: Option<String>,
    max_body: Option<RawSize>,
    tolerance: Option<u64>,
    events: Option<Vec<String>>,
    enforce: Option<bool>,
    public_url: Option<String>,
    allow_ips: Option<Vec<String>>,
    rate_limit: Option<RawRateLimit>,
    dedup: Option<RawRouteDedup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    per_second: f64,
    burst: Option<u32>,
}

/// Exactly one scheme key; a struct rather than an enum so the YAML reads `verify: {hmac: ...}`.
/// `scheme` is the full description a preset is written in; `hmac` the short form for the commonest
/// senders, kept as it was for existing configs and read into the same description.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVerify {
    scheme: Option<SchemeSpec>,
    hmac: Option<RawHmac>,
    query_token: Option<RawQueryToken>,
    header_token: Option<RawHeaderToken>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHmac {
    header: String,
    algorithm: Option<String>,
    encoding: Option<String>,
    prefix: Option<String>,
    /// Signed content, such as `{timestamp}.{body}`; default `{body}`.
    template: Option<String>,
    timestamp_header: Option<String>,
    /// `s` (default), `ms` or `rfc3339`.
    timestamp_unit: Option<String>,
    id_header: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeaderToken {
    header: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueryToken {
    param: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecret {
    env: Option<String>,
    file: Option<PathBuf>,
    value: Option<String>,
    /// RFC 3339; the secret stops matching after this instant.
    not_after: Option<String>,
}

// ---- validated ----

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
    pub label: crate::metrics::Label,
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
    pub public_url: Option<String>,
    /// Only these client addresses may use the route; `None`: anyone.
    pub allow_ips: Option<Vec<Cidr>>,
    pub rate_limit: Option<RateLimiter>,
    /// Remember deliveries the app took for this long; `None`: no replay protection on this route.
    pub dedup_ttl: Option<Duration>,
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
    pub routes: Vec<Route>,
    /// Things that are allowed but unwise, such as literal secrets; `check` and `run` print them.
    pub warnings: Vec<String>,
    /// Every file this config was built from (itself, secrets, certificates), for reload.
    pub watched_files: Vec<PathBuf>,
}

impl Config {
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
    pub fn from_yaml(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let raw: RawConfig = serde_yaml::from_str(text).map_err(ConfigError::Syntax)?;
        let top = "top level";
        let listen = raw
            .listen
            .as_deref()
            .unwrap_or(DEFAULT_LISTEN)
            .parse::<SocketAddr>()
            .map_err(|e| {
                invalid(
                    top,
                    "listen",
                    format!("expected an address like 0.0.0.0:8080 ({e})"),
                )
            })?;
        let upstream_text = raw.upstream.ok_or_else(|| {
            invalid(
                top,
                "upstream",
                "required: the URL of the app, such as http://127.0.0.1:3000",
            )
        })?;
        let upstream = parse_upstream(&upstream_text).map_err(|m| invalid(top, "upstream", m))?;
        let admin = raw
            .admin
            .as_deref()
            .map(|text| text.parse::<SocketAddr>())
            .transpose()
            .map_err(|e| {
                invalid(
                    top,
                    "admin",
                    format!("expected an address like 127.0.0.1:9090 ({e})"),
                )
            })?;
        let shutdown_grace = match raw.shutdown_grace.as_deref() {
            None => DEFAULT_SHUTDOWN_GRACE,
            Some(text) => humantime::parse_duration(text).map_err(|e| {
                invalid(
                    top,
                    "shutdown_grace",
                    format!("{text:?} is not a duration such as 20s ({e})"),
                )
            })?,
        };
        let log_level = raw.log.level.unwrap_or_else(|| "info".to_string());
        if !matches!(
            log_level.as_str(),
            "trace" | "debug" | "info" | "warn" | "error" | "off"
        ) {
            return Err(invalid(
                top,
                "log.level",
                format!("{log_level:?} is not one of trace, debug, info, warn, error, off"),
            ));
        }
        let trusted_proxies = raw
            .trusted_proxies
            .iter()
            .map(|text| Cidr::parse(text))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| invalid(top, "trusted_proxies", m))?;
        let dedup_store = match raw.dedup.store.as_deref() {
            None | Some("memory") => {
                let max_entries = raw.dedup.max_entries.unwrap_or(100_000);
                if max_entries == 0 {
                    return Err(invalid(top, "dedup.max_entries", "must be at least 1"));
                }
                DedupStore::Memory { max_entries }
            }
            Some(url) if url.starts_with("redis://") => {
                if raw.dedup.max_entries.is_some() {
                    return Err(invalid(
                        top,
                        "dedup.max_entries",
                        "bounds the memory store; Redis bounds itself",
                    ));
                }
                crate::dedup::RedisStore::new(url).map_err(|m| invalid(top, "dedup.store", m))?;
                DedupStore::Redis {
                    url: url.to_string(),
                }
            }
            Some(other) => {
                return Err(invalid(
                    top,
                    "dedup.store",
                    format!("{other:?} is neither memory nor redis://host:port/db"),
                ))
            }
        };
        let mut watched_files = Vec::new();
        let tls = match raw.tls {
            None => None,
            Some(paths) => {
                let config = crate::tls::server_config(&paths.cert, &paths.key)
                    .map_err(|m| invalid(top, "tls", m))?;
                watched_files.extend([paths.cert, paths.key]);
                Some(config)
            }
        };
        let upstream_tls = crate::tls::client_config(raw.upstream_ca.as_deref())
            .map_err(|m| invalid(top, "upstream_ca", m))?;
        watched_files.extend(raw.upstream_ca);
        let defaults = Limits::default();
        let duration = |key: &str, text: Option<&String>, default: Duration| match text {
            None => Ok(default),
            Some(text) => match humantime::parse_duration(text) {
                Ok(value) if !value.is_zero() => Ok(value),
                Ok(_) => Err(invalid(top, key, "must be longer than zero")),
                Err(e) => Err(invalid(
                    top,
                    key,
                    format!("{text:?} is not a duration such as 10s ({e})"),
                )),
            },
        };
        let limits = Limits {
            header_timeout: duration(
                "limits.header_timeout",
                raw.limits.header_timeout.as_ref(),
                defaults.header_timeout,
            )?,
            idle_timeout: duration(
                "limits.idle_timeout",
                raw.limits.idle_timeout.as_ref(),
                defaults.idle_timeout,
            )?,
            body_timeout: duration(
                "limits.body_timeout",
                raw.limits.body_timeout.as_ref(),
                defaults.body_timeout,
            )?,
            upstream_timeout: duration(
                "limits.upstream_timeout",
                raw.limits.upstream_timeout.as_ref(),
                defaults.upstream_timeout,
            )?,
            send_timeout: duration(
                "limits.send_timeout",
                raw.limits.send_timeout.as_ref(),
                defaults.send_timeout,
            )?,
            max_connections: match raw.limits.max_connections {
                Some(0) => {
                    return Err(invalid(top, "limits.max_connections", "must be at least 1"))
                }
                Some(n) => n,
                None => defaults.max_connections,
            },
            h2_max_concurrent_streams: match raw.limits.h2_max_concurrent_streams {
                Some(0) => {
                    return Err(invalid(
                        top,
                        "limits.h2_max_concurrent_streams",
                        "must be at least 1",
                    ))
                }
                Some(n) => n,
                None => defaults.h2_max_concurrent_streams,
            },
        };
        let max_body = match raw.limits.max_body {
            Some(size) => parse_size(&size).map_err(|m| invalid(top, "limits.max_body", m))?,
            None => DEFAULT_MAX_BODY,
        };
        if raw.routes.is_empty() {
            return Err(invalid(top, "routes", "at least one route is required"));
        }

        let mut warnings = Vec::new();
        let mut routes: Vec<Route> = Vec::with_capacity(raw.routes.len());
        for raw_route in &raw.routes {
            watched_files.extend(raw_route.secrets.iter().filter_map(|s| s.file.clone()));
        }
        for (index, raw_route) in raw.routes.into_iter().enumerate() {
            let named = raw_route.name.is_some();
            let route = build_route(index, raw_route, &upstream, max_body, &env, &mut warnings)?;
            refuse_duplicate(&routes, &route, index, named)?;
            routes.push(route);
        }
        let mut upstreams: Vec<&Upstream> = vec![&upstream];
        upstreams.extend(routes.iter().map(|r| &r.upstream));
        for target in upstreams {
            if !target.is_loopback() {
                let warning = format!(
                    "upstream {target} is not a loopback address: in a sidecar, bind the app to 127.0.0.1 so nothing reaches it around hookguard"
                );
                if !warnings.contains(&warning) {
                    warnings.push(warning);
                }
            }
        }
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
            routes,
            warnings,
            watched_files,
        })
    }
}

fn build_route(
    index: usize,
    raw: RawRoute,
    default_upstream: &Upstream,
    default_max_body: u64,
    env: &impl Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<Route, ConfigError> {
    let name = raw.name.clone().unwrap_or_else(|| raw.path.clone());
    let place = format!("route {name:?} (routes[{index}])");
    let pattern = PathPattern::parse(&raw.path).map_err(|m| invalid(&place, "path", m))?;
    // The name travels to the app in X-Hookguard-Route and stands unquoted in log lines, so it is
    // printable ASCII without spaces.
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            &place,
            "name",
            "must be non-empty printable ASCII without spaces",
        ));
    }

    let mut secrets = Vec::with_capacity(raw.secrets.len());
    for (i, raw_secret) in raw.secrets.iter().enumerate() {
        let key = format!("secrets[{i}]");
        let secret = load_secret(raw_secret, env).map_err(|m| invalid(&place, &key, m))?;
        let not_after = match &raw_secret.not_after {
            None => None,
            Some(text) => Some(humantime::parse_rfc3339(text).map_err(|e| {
                invalid(&place, format!("{key}.not_after"), format!("{text:?} is not an RFC 3339 UTC instant such as 2026-12-31T00:00:00Z ({e})"))
            })?),
        };
        if raw_secret.value.is_some() {
            warnings.push(format!(
                "{place}: {key} is a literal `value`; outside local testing use `env` or `file`"
            ));
        }
        secrets.push((secret, not_after));
    }
    if secrets.is_empty() {
        return Err(invalid(
            &place,
            "secrets",
            "at least one secret is required",
        ));
    }
    let not_afters: Vec<Option<SystemTime>> = secrets.iter().map(|(_, end)| *end).collect();
    warnings.extend(secret_window_warnings(
        &place,
        &not_afters,
        SystemTime::now(),
    ));
    let key_error = |(i, message): (usize, crate::verify::KeyError)| {
        invalid(&place, format!("secrets[{i}]"), message)
    };

    let built = match (raw.provider.as_deref(), raw.verify) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                &place,
                "provider",
                "give either `provider` or `verify`, not both",
            ))
        }
        (None, None) => {
            return Err(invalid(
                &place,
                "provider",
                "a route needs `provider` or `verify`",
            ))
        }
        (Some(provider), None) => {
            let preset = presets::find(provider).ok_or_else(|| {
                invalid(
                    &place,
                    "provider",
                    format!("unknown provider {provider:?}; `hookguard providers` lists them"),
                )
            })?;
            let verifier = match &preset.spec {
                Spec::Signature(spec) => {
                    let scheme = spec.scheme().map_err(|e| {
                        invalid(&place, "provider", format!("preset is broken: {e}"))
                    })?;
                    let scheme =
                        apply_route_options(scheme, raw.tolerance, raw.public_url.as_deref())
                            .map_err(|(key, m)| invalid(&place, key, m))?;
                    Verifier::Signature(
                        SignatureVerifier::new(scheme, spec.key_format, &secrets)
                            .map_err(key_error)?,
                    )
                }
                Spec::HeaderToken(_) => {
                    let source = preset
                        .spec
                        .token_source()
                        .map_err(|e| invalid(&place, "provider", e))?;
                    refuse_scheme_options(raw.tolerance, raw.public_url.as_deref())
                        .map_err(|(key, m)| invalid(&place, key, m))?;
                    let source = source
                        .ok_or_else(|| invalid(&place, "provider", "preset has no token source"))?;
                    Verifier::Token(TokenVerifier::new(source, &secrets))
                }
            };
            Built {
                verifier,
                label: preset.name.to_string(),
                methods: preset.methods.to_vec(),
                event_field: preset.event,
                delivery_id_field: preset.delivery_id,
                handshake: preset.handshake,
            }
        }
        (None, Some(verify)) => {
            let explicit = match (verify.scheme, verify.hmac) {
                (Some(_), Some(_)) => None,
                (Some(spec), None) => Some(("verify.scheme", spec)),
                (None, Some(hmac)) => Some((
                    "verify.hmac",
                    hmac_spec(hmac).map_err(|(key, m)| invalid(&place, key, m))?,
                )),
                (None, None) => None,
            };
            let (verifier, label, methods) =
                match (explicit, verify.query_token, verify.header_token) {
                    (Some((at, spec)), None, None) => {
                        let scheme = spec
                            .scheme()
                            .map_err(|e| invalid(&place, format!("{at}.{}", e.key), e.message))?;
                        let label = format!(
                            "{} {} on {}",
                            scheme.algorithm.as_str(),
                            scheme.encoding.as_str(),
                            match &scheme.signature_in_body {
                                Some(pointer) => format!("body {pointer}"),
                                None => scheme
                                    .header_sets
                                    .first()
                                    .and_then(|s| s.signatures.first())
                                    .map_or(String::new(), |h| h.to_string()),
                            }
                        );
                        let scheme =
                            apply_route_options(scheme, raw.tolerance, raw.public_url.as_deref())
                                .map_err(|(key, m)| invalid(&place, key, m))?;
                        let verifier = SignatureVerifier::new(scheme, spec.key_format, &secrets)
                            .map_err(key_error)?;
                        (Verifier::Signature(verifier), label, vec![Method::POST])
                    }
                    (None, Some(token), None) => {
                        if token.param.is_empty() {
                            return Err(invalid(
                                &place,
                                "verify.query_token.param",
                                "must not be empty",
                            ));
                        }
                        refuse_scheme_options(raw.tolerance, raw.public_url.as_deref())
                            .map_err(|(key, m)| invalid(&place, key, m))?;
                        let label = format!("query_token on ?{}=", token.param);
                        let verifier =
                            TokenVerifier::new(TokenSource::Query(token.param), &secrets);
                        (Verifier::Token(verifier), label, vec![Method::GET])
                    }
                    (None, None, Some(token)) => {
                        let header =
                            HeaderName::from_bytes(token.header.as_bytes()).map_err(|_| {
                                invalid(
                                    &place,
                                    "verify.header_token.header",
                                    format!("{:?} is not a valid header name", token.header),
                                )
                            })?;
                        refuse_scheme_options(raw.tolerance, raw.public_url.as_deref())
                            .map_err(|(key, m)| invalid(&place, key, m))?;
                        let label = format!("header_token on {header}");
                        (
                            Verifier::Token(TokenVerifier::new(
                                TokenSource::Header(header),
                                &secrets,
                            )),
                            label,
                            vec![Method::POST],
                        )
                    }
                    _ => {
                        return Err(invalid(
                            &place,
                            "verify",
                            "give exactly one of `scheme`, `hmac`, `query_token` or `header_token`",
                        ))
                    }
                };
            Built {
                verifier,
                label,
                methods,
                event_field: None,
                delivery_id_field: None,
                handshake: Handshake::None,
            }
        }
    };
    let events =
        match raw.events {
            None => None,
            Some(_) if built.event_field.is_none() => return Err(invalid(
                &place,
                "events",
                "this route's scheme does not say where the event type is; use a preset that does",
            )),
            Some(list) if list.is_empty() => {
                return Err(invalid(&place, "events", "list at least one event type"))
            }
            Some(list) => Some(list),
        };
    let Built {
        verifier,
        label: scheme_label,
        methods: default_methods,
        event_field,
        delivery_id_field,
        handshake,
    } = built;

    let methods = match raw.methods {
        Some(names) => parse_methods(&names).map_err(|m| invalid(&place, "methods", m))?,
        None => default_methods,
    };
    let upstream = match raw.upstream {
        Some(text) => parse_upstream(&text).map_err(|m| invalid(&place, "upstream", m))?,
        None => default_upstream.clone(),
    };
    let max_body = match raw.max_body {
        Some(size) => parse_size(&size).map_err(|m| invalid(&place, "max_body", m))?,
        None => default_max_body,
    };
    let allow_ips = match raw.allow_ips {
        None => None,
        Some(list) if list.is_empty() => {
            return Err(invalid(
                &place,
                "allow_ips",
                "an empty list would refuse everyone; leave the key out to allow all",
            ))
        }
        Some(list) => Some(
            list.iter()
                .map(|text| Cidr::parse(text))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| invalid(&place, "allow_ips", m))?,
        ),
    };
    let rate_limit = match raw.rate_limit {
        None => None,
        Some(limit) => {
            if !(limit.per_second.is_finite() && limit.per_second > 0.0) {
                return Err(invalid(
                    &place,
                    "rate_limit.per_second",
                    "must be a number above zero",
                ));
            }
            let burst = limit
                .burst
                .unwrap_or_else(|| limit.per_second.ceil().max(1.0) as u32);
            if burst == 0 {
                return Err(invalid(&place, "rate_limit.burst", "must be at least 1"));
            }
            Some(RateLimiter::new(limit.per_second, burst))
        }
    };
    let dedup_ttl = match raw.dedup {
        None => None,
        Some(dedup) => Some(match dedup.ttl.as_deref() {
            None => Duration::from_secs(24 * 3600),
            Some(text) => humantime::parse_duration(text)
                .ok()
                .filter(|ttl| !ttl.is_zero())
                .ok_or_else(|| {
                    invalid(
                        &place,
                        "dedup.ttl",
                        format!("{text:?} is not a duration such as 24h"),
                    )
                })?,
        }),
    };
    // Printable ASCII without spaces was checked above, so this cannot fail; the error path keeps it
    // total without an unwrap.
    let header_value = http::HeaderValue::from_str(&name).map_err(|_| {
        invalid(
            &place,
            "name",
            "must be non-empty printable ASCII without spaces",
        )
    })?;
    Ok(Route {
        header_value,
        dedup_ttl,
        allow_ips,
        rate_limit,
        label: Arc::new(name.clone()),
        name,
        pattern,
        methods,
        verifier,
        scheme_label,
        secret_count: secrets.len(),
        upstream,
        max_body,
        enforce: raw.enforce.unwrap_or(true),
        events,
        event_field,
        delivery_id_field,
        handshake,
        public_url: raw.public_url,
    })
}

/// Warnings about secrets past their `not_after`: loudest while the route has no secret that still
/// matches, since such a route refuses every delivery and nothing else at start would show it; also
/// when its last secret stops matching within [`EXPIRY_NOTICE`], and for each retired secret left.
fn secret_window_warnings(
    place: &str,
    not_afters: &[Option<SystemTime>],
    now: SystemTime,
) -> Vec<String> {
    let expired: Vec<usize> = (0..not_afters.len())
        .filter(|&i| not_afters[i].is_some_and(|end| end < now))
        .collect();
    // A secret without `not_after` never stops matching.
    let last = not_afters
        .iter()
        .copied()
        .collect::<Option<Vec<SystemTime>>>()
        .and_then(|ends| ends.into_iter().max());
    let Some(last) = last else {
        return expired.iter().map(|i| retired(place, *i)).collect();
    };
    let instant = humantime::format_rfc3339_seconds(last);
    if last < now {
        vec![format!(
            "{place}: no active secret: every secret is past its `not_after` (the last at {instant}), so every delivery is refused; add a current secret"
        )]
    } else {
        let mut warnings: Vec<String> = expired.iter().map(|i| retired(place, *i)).collect();
        if last.duration_since(now).unwrap_or_default() < EXPIRY_NOTICE {
            warnings.push(format!(
                "{place}: every secret stops matching by {instant}; add the next one before then"
            ));
        }
        warnings
    }
}

fn retired(place: &str, index: usize) -> String {
    format!("{place}: secrets[{index}] is past its `not_after` and no longer matches; remove it")
}

/// Paths are compared first: a route without `name` is named by its path, so two such routes on one
/// path would otherwise be reported as a clash of names nobody wrote.
fn refuse_duplicate(
    earlier: &[Route],
    route: &Route,
    index: usize,
    named: bool,
) -> Result<(), ConfigError> {
    let place = format!("route {:?} (routes[{index}])", route.name);
    if earlier.iter().any(|r| r.pattern == route.pattern) {
        return Err(invalid(
            &place,
            "path",
            "another route already has this path",
        ));
    }
    if earlier.iter().any(|r| r.name == route.name) {
        let message = if named {
            "another route already has this name"
        } else {
            "this route is named by its path, and another route already has that name; give `name`"
        };
        return Err(invalid(&place, "name", message));
    }
    Ok(())
}

/// What a route's `provider` or `verify` resolves to.
struct Built {
    verifier: Verifier,
    label: String,
    methods: Vec<Method>,
    event_field: Option<Field>,
    delivery_id_field: Option<Field>,
    handshake: Handshake,
}

/// `tolerance` and `public_url` only mean something to schemes that use them, so elsewhere they are
/// a sign of a misunderstanding and refused.
fn apply_route_options(
    mut scheme: Scheme,
    tolerance: Option<u64>,
    public_url: Option<&str>,
) -> Result<Scheme, (&'static str, String)> {
    if let Some(seconds) = tolerance {
        let rule = scheme
            .timestamp
            .as_mut()
            .ok_or(("tolerance", "this scheme signs no timestamp".to_string()))?;
        rule.tolerance = Some(Duration::from_secs(seconds));
    }
    match (scheme.template.needs_url(), public_url) {
        (true, None) => Err((
            "public_url",
            "required: the exact URL given to the provider".to_string(),
        )),
        (false, Some(_)) => Err((
            "public_url",
            "this scheme does not sign the URL".to_string(),
        )),
        (true, Some(url)) => {
            let parsed: Uri = url
                .parse()
                .map_err(|e| ("public_url", format!("{url:?} is not a URL: {e}")))?;
            if parsed.scheme().is_none() || parsed.authority().is_none() || parsed.query().is_some()
            {
                return Err((
                    "public_url",
                    format!("{url:?}: give scheme, host and path, without a query"),
                ));
            }
            Ok(scheme)
        }
        (false, None) => Ok(scheme),
    }
}

fn refuse_scheme_options(
    tolerance: Option<u64>,
    public_url: Option<&str>,
) -> Result<(), (&'static str, String)> {
    if tolerance.is_some() {
        return Err(("tolerance", "this scheme signs no timestamp".into()));
    }
    if public_url.is_some() {
        return Err(("public_url", "this scheme does not sign the URL".into()));
    }
    Ok(())
}

/// The short `hmac:` form as the full description: one header set, a whole signature after an
/// optional prefix, raw keys, and a header timestamp checked ±300 s, as it has always meant.
fn hmac_spec(raw: RawHmac) -> Result<SchemeSpec, (&'static str, String)> {
    let name = |key: &'static str, text: &str| {
        HeaderName::from_bytes(text.as_bytes())
            .map(|_| text.to_string())
            .map_err(|_| (key, format!("{text:?} is not a valid header name")))
    };
    let header = name("verify.hmac.header", &raw.header)?;
    let algorithm = match raw.algorithm.as_deref() {
        None => Algorithm::HmacSha256,
        Some(text) => Algorithm::parse_hmac(text).ok_or((
            "verify.hmac.algorithm",
            format!("{text:?} is not one of sha1, sha256, sha512"),
        ))?,
    };
    let encoding = match raw.encoding.as_deref() {
        None => Encoding::Hex,
        Some(text) => Encoding::parse(text).ok_or((
            "verify.hmac.encoding",
            format!("{text:?} is not one of hex, base64"),
        ))?,
    };
    let template_text = raw.template.unwrap_or_else(|| "{body}".to_string());
    let template =
        Template::parse(&template_text).map_err(|e| ("verify.hmac.template", e.to_string()))?;
    let timestamp_header = raw
        .timestamp_header
        .as_deref()
        .map(|t| name("verify.hmac.timestamp_header", t))
        .transpose()?;
    let id_header = raw
        .id_header
        .as_deref()
        .map(|t| name("verify.hmac.id_header", t))
        .transpose()?;
    let unit = match raw.timestamp_unit.as_deref() {
        None | Some("s") => TimeUnit::Seconds,
        Some("ms") => TimeUnit::Millis,
        Some("rfc3339") => TimeUnit::Rfc3339,
        Some(other) => {
            return Err((
                "verify.hmac.timestamp_unit",
                format!("{other:?} is not one of s, ms, rfc3339"),
            ))
        }
    };
    if template.needs(&Part::Timestamp) != timestamp_header.is_some() {
        return Err((
            "verify.hmac.timestamp_header",
            "give it exactly when the template uses {timestamp}".into(),
        ));
    }
    if template.needs(&Part::Id) != id_header.is_some() {
        return Err((
            "verify.hmac.id_header",
            "give it exactly when the template uses {id}".into(),
        ));
    }
    // An explicit timestamp is checked both ways, five minutes by default, as most senders do.
    let timestamp = timestamp_header.as_ref().map(|_| TimestampSpec {
        source: TimestampSource::Header,
        unit,
        tolerance: Some(300),
        reject_future: true,
    });
    let prefixes = raw.prefix.filter(|p| !p.is_empty()).into_iter().collect();
    Ok(SchemeSpec {
        algorithm,
        encoding,
        key_format: KeyFormat::Raw,
        header_sets: vec![HeaderSetSpec {
            signatures: vec![header],
            timestamp: timestamp_header,
            id: id_header,
        }],
        signature_in_body: None,
        format: SignatureFormat::Whole { prefixes },
        template: template_text,
        timestamp,
        body_sha256_param: None,
    })
}

fn load_secret(raw: &RawSecret, env: &impl Fn(&str) -> Option<String>) -> Result<Secret, String> {
    let bytes = match (&raw.env, &raw.file, &raw.value) {
        (Some(var), None, None) => without_line_ending(
            env(var)
                .ok_or_else(|| format!("environment variable {var} is not set"))?
                .into_bytes(),
        ),
        (None, Some(path), None) => without_line_ending(
            std::fs::read(path)
                .map_err(|e| format!("cannot read secret file {}: {e}", path.display()))?,
        ),
        (None, None, Some(value)) => value.clone().into_bytes(),
        _ => return Err("give exactly one of `env`, `file` or `value`".into()),
    };
    if bytes.is_empty() {
        return Err("the secret is empty".into());
    }
    Ok(Secret::new(bytes))
}

/// A secret as stored in an `env` variable or a `file`, less one trailing `\n` or `\r\n`:
/// `echo` and most editors end what they write with one, and it is not part of the secret. Only one
/// is removed, so a secret that really ends in a line break can still be written (with two).
pub fn without_line_ending(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    bytes
}

fn parse_methods(names: &[String]) -> Result<Vec<Method>, String> {
    if names.is_empty() {
        return Err("list at least one method".into());
    }
    names
        .iter()
        .map(|name| {
            if name.is_empty() || name.bytes().any(|b| !b.is_ascii_uppercase()) {
                return Err(format!(
                    "{name:?} is not an upper-case HTTP method such as POST"
                ));
            }
            Method::from_bytes(name.as_bytes()).map_err(|e| format!("{name:?}: {e}"))
        })
        .collect()
}

fn parse_upstream(text: &str) -> Result<Upstream, String> {
    let uri: Uri = text
        .parse()
        .map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    let scheme = uri
        .scheme()
        .cloned()
        .ok_or_else(|| format!("{text:?} needs http://"))?;
    if scheme != UriScheme::HTTP && scheme != UriScheme::HTTPS {
        return Err(format!("{text:?}: use http:// or https://"));
    }
    let authority = uri
        .authority()
        .cloned()
        .ok_or_else(|| format!("{text:?} has no host"))?;
    let path_is_root = matches!(uri.path(), "" | "/");
    if !path_is_root || uri.query().is_some() {
        return Err(format!(
            "{text:?}: give only scheme, host and port; the request's own path is forwarded"
        ));
    }
    Ok(Upstream { scheme, authority })
}

fn parse_size(raw: &RawSize) -> Result<u64, String> {
    let text = match raw {
        RawSize::Bytes(n) => return Ok(*n),
        RawSize::Text(text) => text.trim(),
    };
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => {
            return Err(format!(
                "{text:?}: use a byte count or a KiB, MiB or GiB suffix"
            ))
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| format!("{text:?} is not a size"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn load(yaml: &str) -> Result<Config, ConfigError> {
        Config::from_yaml(yaml, |name| {
            (name == "SECRET_VAR").then(|| "from-env".to_string())
        })
    }

    fn error_text(yaml: &str) -> String {
        load(yaml)
            .expect_err("config should be refused")
            .to_string()
    }

    const MINIMAL: &str = "
upstream: http://127.0.0.1:3000
routes:
  - path: /webhooks/drivewidget
    provider: drivewidget
    secrets: [{env: SECRET_VAR}]
";

    #[test]
    fn defaults_fill_in() {
        let config = load(MINIMAL).expect("valid");
        assert_eq!(config.listen, "0.0.0.0:8080".parse().expect("addr"));
        assert_eq!(config.unmatched, Unmatched::Reject);
        assert_eq!(config.max_body, 1024 * 1024);
        let route = &config.routes[0];
        assert_eq!(route.name, "/webhooks/drivewidget");
        assert_eq!(route.methods, vec![Method::POST]);
        assert_eq!(route.upstream.to_string(), "http://127.0.0.1:3000");
        assert_eq!(route.max_body, 1024 * 1024);
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        assert_eq!(config.admin, None);
        assert_eq!(config.shutdown_grace, Duration::from_secs(20));
        assert_eq!(config.log_format, LogFormat::Text);
        assert!(config.tls.is_none());
    }

    #[test]
    fn explicit_values_are_taken() {
        let config = load(
            "
listen: 127.0.0.1:9000
upstream: http://app:3000/
unmatched: forward
limits: {max_body: 64KiB}
routes:
  - path: /webhooks/custom
    name: custom
    verify: {hmac: {header: X-Custom-Sig, algorithm: sha512, encoding: base64, prefix: 'v1='}}
    secrets: [{value: literal}]
    methods: [POST, PUT]
    upstream: http://other:8000
    max_body: 2048
  - path: /webhooks/files
    verify: {query_token: {param: token}}
    secrets: [{env: SECRET_VAR}]
",
        )
        .expect("valid");
        assert_eq!(config.unmatched, Unmatched::Forward);
        assert_eq!(config.max_body, 64 * 1024);
        let custom = &config.routes[0];
        assert_eq!(custom.methods, vec![Method::POST, Method::PUT]);
        assert_eq!(custom.upstream.to_string(), "http://other:8000");
        assert_eq!(custom.max_body, 2048);
        assert_eq!(custom.scheme_label, "hmac-sha512 base64 on x-custom-sig");
        let files = &config.routes[1];
        assert_eq!(files.methods, vec![Method::GET]);
        assert_eq!(files.max_body, 64 * 1024);
        let literal: Vec<&String> = config
            .warnings
            .iter()
            .filter(|w| w.contains("literal"))
            .collect();
        assert_eq!(literal.len(), 1);
        assert!(literal[0].contains("custom"), "{:?}", config.warnings);
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("http://app:3000") && w.contains("loopback")),
            "a non-loopback upstream is worth a warning: {:?}",
            config.warnings
        );
    }

    #[test]
    fn route_options_reach_the_route() {
        let config = load(
            "
upstream: http://127.0.0.1:3000
routes:
  - path: /stripe
    provider: stripe
    tolerance: 60
    events: [invoice.paid]
    enforce: false
    secrets: [{env: SECRET_VAR, not_after: 2030-01-01T00:00:00Z}]
  - path: /twilio
    provider: twilio
    public_url: https://hooks.example.com/twilio
    secrets: [{env: SECRET_VAR}]
  - path: /custom
    verify: {hmac: {header: X-Sig, template: 'v1:{timestamp}:{body}', timestamp_header: X-Ts, timestamp_unit: ms}}
    secrets: [{env: SECRET_VAR}]
  - path: /token
    verify: {header_token: {header: X-Token}}
    secrets: [{env: SECRET_VAR}]
",
        )
        .expect("valid");
        let stripe = &config.routes[0];
        assert!(!stripe.enforce);
        assert_eq!(stripe.events, Some(vec!["invoice.paid".to_string()]));
        let Verifier::Signature(verifier) = &stripe.verifier else {
            panic!("signature route expected");
        };
        let rule = verifier
            .scheme()
            .timestamp
            .as_ref()
            .expect("timestamp rule");
        assert_eq!(rule.tolerance, Some(Duration::from_secs(60)));
        assert_eq!(
            config.routes[1].public_url.as_deref(),
            Some("https://hooks.example.com/twilio")
        );
        let Verifier::Signature(custom) = &config.routes[2].verifier else {
            panic!("signature route expected");
        };
        assert_eq!(
            custom.scheme().timestamp.as_ref().map(|t| t.unit),
            Some(TimeUnit::Millis)
        );
        assert!(matches!(config.routes[3].verifier, Verifier::Token(_)));
        assert_eq!(config.routes[3].methods, vec![Method::POST]);
    }

    #[test]
    fn secret_files_lose_their_trailing_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        std::fs::write(&path, "abc\n").expect("write");
        let yaml = MINIMAL.replace(
            "{env: SECRET_VAR}",
            &format!("{{file: {}}}", path.display()),
        );
        let config = load(&yaml).expect("valid");
        let preset = presets::find("drivewidget").expect("preset");
        let outgoing = presets::Outgoing {
            method: Method::POST,
            body: b"x",
            url: None,
            content_type: None,
            now: std::time::SystemTime::now(),
        };
        let signed = preset.sign(&Secret::new("abc"), &outgoing).expect("sign");
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "x-drivewidget-signature",
            signed[0].1.parse().expect("value"),
        );
        let view = crate::verify::RequestView {
            method: &Method::POST,
            headers: &headers,
            query: None,
            body: &crate::body::RawBody::from(&b"x"[..]),
            public_url: None,
            now: outgoing.now,
        };
        assert_eq!(config.routes[0].verifier.verify(&view), Ok(()));
    }

    #[test]
    fn refusals_name_the_route_and_the_key() {
        let cases: Vec<(String, &[&str])> = vec![
            (MINIMAL.replace("    provider: drivewidget\n", "    provider: drivewidget\n    allow_ipz: []\n"), &["routes[0]", "allow_ipz"]),
            (MINIMAL.replace("drivewidget\n    secrets", "nosuch\n    secrets"), &["routes[0]", "provider", "nosuch"]),
            (MINIMAL.replace("SECRET_VAR", "MISSING_VAR"), &["/webhooks/drivewidget", "secrets[0]", "MISSING_VAR"]),
            (MINIMAL.replace("{env: SECRET_VAR}", "{file: /nonexistent/secret}"), &["secrets[0]", "/nonexistent/secret"]),
            (MINIMAL.replace("{env: SECRET_VAR}", "{value: ''}"), &["secrets[0]", "empty"]),
            (MINIMAL.replace("{env: SECRET_VAR}", "{env: SECRET_VAR, value: x}"), &["secrets[0]", "exactly one"]),
            (MINIMAL.replace("secrets: [{env: SECRET_VAR}]", "secrets: []"), &["secrets", "at least one"]),
            (MINIMAL.replace("upstream: http://127.0.0.1:3000", "upstream: ftp://x"), &["top level", "upstream"]),
            (format!("admin: nowhere\n{MINIMAL}"), &["top level", "admin"]),
            (format!("shutdown_grace: soon\n{MINIMAL}"), &["shutdown_grace", "duration"]),
            (format!("log: {{format: xml}}\n{MINIMAL}"), &["log", "xml"]),
            (format!("log: {{level: 'not a level!!'}}\n{MINIMAL}"), &["log.level"]),
            (format!("tls: {{cert: /nonexistent/cert.pem, key: /nonexistent/key.pem}}\n{MINIMAL}"), &["tls", "/nonexistent/cert.pem"]),
            (format!("upstream_ca: /nonexistent/ca.pem\n{MINIMAL}"), &["upstream_ca", "/nonexistent/ca.pem"]),
            (format!("{MINIMAL}limits: {{header_timeout: soon}}\n"), &["limits.header_timeout"]),
            (format!("{MINIMAL}limits: {{request_timeout: 5s}}\n"), &["request_timeout"]),
            (format!("{MINIMAL}limits: {{body_timeout: 0s}}\n"), &["limits.body_timeout", "zero"]),
            (format!("{MINIMAL}limits: {{upstream_timeout: later}}\n"), &["limits.upstream_timeout", "duration"]),
            (format!("{MINIMAL}limits: {{max_connections: 0}}\n"), &["limits.max_connections"]),
            (format!("{MINIMAL}    allow_ips: [192.0.2.1/24]\n"), &["allow_ips", "192.0.2.0/24"]),
            (format!("{MINIMAL}    allow_ips: []\n"), &["allow_ips", "empty"]),
            (format!("{MINIMAL}    rate_limit: {{per_second: 0}}\n"), &["rate_limit.per_second"]),
            (format!("trusted_proxies: [nope]\n{MINIMAL}"), &["trusted_proxies", "nope"]),
            (format!("dedup: {{store: memcached}}\n{MINIMAL}"), &["dedup.store", "memcached"]),
            (format!("dedup: {{store: 'redis://x', max_entries: 5}}\n{MINIMAL}"), &["dedup.max_entries"]),
            (format!("{MINIMAL}    dedup: {{ttl: forever}}\n"), &["dedup.ttl"]),
            (MINIMAL.replace("upstream: http://127.0.0.1:3000\n", ""), &["upstream", "required"]),
            (MINIMAL.replace("path: /webhooks/drivewidget", "path: /a/../b"), &["path", "canonical"]),
            (format!("{MINIMAL}    methods: [post]\n"), &["methods", "upper-case"]),
            (format!("{MINIMAL}    max_body: 1MB\n"), &["max_body", "KiB"]),
            (format!("{MINIMAL}    verify: {{query_token: {{param: t}}}}\n"), &["provider", "not both"]),
            (format!("{MINIMAL}  - path: /webhooks/drivewidget\n    name: second\n    provider: filedgr\n    secrets: [{{env: SECRET_VAR}}]\n"), &["second", "path", "already"]),
            (format!("{MINIMAL}  - path: /webhooks/drivewidget\n    provider: filedgr\n    secrets: [{{env: SECRET_VAR}}]\n"), &["routes[1]", "`path`", "already has this path"]),
            (format!("{MINIMAL}  - path: /other\n    name: /webhooks/drivewidget\n    provider: filedgr\n    secrets: [{{env: SECRET_VAR}}]\n"), &["routes[1]", "name", "already"]),
            ("upstream: http://x\nroutes: []\n".to_string(), &["routes", "at least one"]),
            (MINIMAL.replace("provider: drivewidget", "verify: {hmac: {header: X-S, algorithm: md5}}"), &["verify.hmac.algorithm", "md5"]),
            (MINIMAL.replace("provider: drivewidget", "verify: {}"), &["verify", "exactly one"]),
            (MINIMAL.replace("provider: drivewidget", "verify: {jwt: {}}"), &["verify", "jwt"]),
            (MINIMAL.replace("provider: drivewidget", "provider: drivewidget\n    name: \"caf\u{e9}\""), &["name", "printable"]),
            (format!("{MINIMAL}tls: {{cert: a, key: b}}\n"), &["tls"]),
            (format!("{MINIMAL}    tolerance: 60\n"), &["tolerance", "no timestamp"]),
            (MINIMAL.replace("provider: drivewidget", "provider: twilio"), &["public_url", "required"]),
            (format!("{MINIMAL}    public_url: https://x.test/a\n"), &["public_url", "does not sign"]),
            (MINIMAL.replace("provider: drivewidget", "provider: twilio\n    public_url: https://x.test/a?b=1"), &["public_url", "without a query"]),
            (MINIMAL.replace("provider: drivewidget", "provider: x-signature\n    events: [a]"), &["events", "event type"]),
            (format!("{MINIMAL}    events: []\n"), &["events", "at least one"]),
            (MINIMAL.replace("{env: SECRET_VAR}", "{env: SECRET_VAR, not_after: tomorrow}"), &["secrets[0].not_after", "RFC 3339"]),
            (MINIMAL.replace("provider: drivewidget", "verify: {hmac: {header: X-S, template: '{timestamp}.{body}'}}"), &["timestamp_header", "{timestamp}"]),
            (MINIMAL.replace("provider: drivewidget", "verify: {hmac: {header: X-S, template: '{nope}'}}"), &["verify.hmac.template", "nope"]),
            (MINIMAL.replace("provider: drivewidget", "provider: discord"), &["secrets[0]", "Ed25519"]),
            (MINIMAL.replace("provider: drivewidget", "provider: svix").replace("{env: SECRET_VAR}", "{value: 'whsec_!!'}"), &["secrets[0]", "whsec_"]),
            (format!("{MINIMAL}    enforce: maybe\n"), &["enforce"]),
        ];
        for (yaml, needles) in cases {
            let text = error_text(&yaml);
            for needle in needles {
                assert!(text.contains(needle), "{text:?} should mention {needle:?}");
            }
        }
        assert!(Config::from_yaml(MINIMAL, no_env).is_err());
    }

    #[test]
    fn secrets_past_not_after_are_warned_about() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let day = Duration::from_secs(24 * 3600);
        let warn = |ends: &[Option<SystemTime>]| secret_window_warnings("route", ends, now);
        assert!(warn(&[None]).is_empty());
        assert!(warn(&[Some(now + 30 * day)]).is_empty());
        let none_active = warn(&[Some(now - day), Some(now - 2 * day)]);
        assert_eq!(none_active.len(), 1, "{none_active:?}");
        assert!(none_active[0].contains("no active secret"));
        let soon = warn(&[Some(now + day)]);
        assert!(soon[0].contains("stops matching by"), "{soon:?}");
        let one_retired = warn(&[None, Some(now - day)]);
        assert_eq!(one_retired.len(), 1);
        assert!(
            one_retired[0].contains("secrets[1] is past"),
            "{one_retired:?}"
        );
    }

    #[test]
    fn one_line_ending_is_trimmed_from_a_secret() {
        for (stored, secret) in [
            ("abc", "abc"),
            ("abc\n", "abc"),
            ("abc\r\n", "abc"),
            ("abc\n\n", "abc\n"),
            ("abc\r", "abc\r"),
            ("\n", ""),
        ] {
            assert_eq!(
                without_line_ending(stored.as_bytes().to_vec()),
                secret.as_bytes(),
                "{stored:?}"
            );
        }
    }

    #[test]
    fn sizes_parse() {
        let ok = [
            ("1024", 1024),
            ("1KiB", 1024),
            ("5MiB", 5 << 20),
            ("1GiB", 1 << 30),
            ("7B", 7),
        ];
        for (text, expected) in ok {
            assert_eq!(
                parse_size(&RawSize::Text(text.into())),
                Ok(expected),
                "{text}"
            );
        }
        for bad in ["", "MiB", "1.5MiB", "1mb", "-1", "99999999999999999999GiB"] {
            assert!(parse_size(&RawSize::Text(bad.into())).is_err(), "{bad}");
        }
        assert_eq!(parse_size(&RawSize::Bytes(3)), Ok(3));
    }
}
