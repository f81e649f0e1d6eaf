//! The config as written: serde shapes that refuse unknown keys, before anything is validated.

use std::path::PathBuf;

use serde::Deserialize;

use super::{LogFormat, Unmatched};
use crate::verify::spec::SchemeSpec;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) listen: Option<String>,
    pub(super) upstream: Option<String>,
    pub(super) admin: Option<String>,
    #[serde(default)]
    pub(super) unmatched: Unmatched,
    pub(super) shutdown_grace: Option<String>,
    #[serde(default)]
    pub(super) log: RawLog,
    pub(super) tls: Option<RawTls>,
    pub(super) upstream_ca: Option<PathBuf>,
    #[serde(default)]
    pub(super) trusted_proxies: Vec<String>,
    #[serde(default)]
    pub(super) dedup: RawDedupStore,
    #[serde(default)]
    pub(super) limits: RawLimits,
    pub(super) spool: Option<RawSpool>,
    pub(super) admin_token: Option<RawAdminToken>,
    pub(super) admin_recent: Option<usize>,
    /// Worker threads; default: the available cores.
    pub(super) workers: Option<usize>,
    pub(super) routes: Vec<RawRoute>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSpool {
    pub(super) store: Option<String>,
    pub(super) max_bytes: Option<RawSize>,
    pub(super) dead_letter_retention: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdminToken {
    pub(super) env: Option<String>,
    pub(super) file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDelivery {
    pub(super) mode: Option<String>,
    pub(super) retry: Option<Vec<String>>,
    pub(super) max_age: Option<String>,
    pub(super) concurrency: Option<usize>,
    pub(super) attempt_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    #[serde(default)]
    pub(super) format: LogFormat,
    pub(super) level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDedupStore {
    pub(super) store: Option<String>,
    pub(super) max_entries: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRouteDedup {
    pub(super) ttl: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    pub(super) cert: PathBuf,
    pub(super) key: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) max_body: Option<RawSize>,
    pub(super) header_timeout: Option<String>,
    pub(super) idle_timeout: Option<String>,
    pub(super) body_timeout: Option<String>,
    pub(super) upstream_timeout: Option<String>,
    pub(super) send_timeout: Option<String>,
    pub(super) max_connections: Option<usize>,
    pub(super) h2_max_concurrent_streams: Option<u32>,
    pub(super) upstream_idle_per_worker: Option<usize>,
}

/// A size as a bare byte count or a string with a binary suffix (`512KiB`, `1MiB`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawSize {
    Bytes(u64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    pub(super) path: String,
    pub(super) name: Option<String>,
    pub(super) provider: Option<String>,
    pub(super) verify: Option<RawVerify>,
    #[serde(default)]
    pub(super) secrets: Vec<RawSecret>,
    pub(super) methods: Option<Vec<String>>,
    pub(super) upstream: Option<String>,
    pub(super) max_body: Option<RawSize>,
    pub(super) tolerance: Option<u64>,
    pub(super) events: Option<Vec<String>>,
    pub(super) enforce: Option<bool>,
    pub(super) public_url: Option<String>,
    /// Meta's `hub.verify_token`, held like a secret: `env`, `file` or `value`.
    pub(super) verify_token: Option<RawSecret>,
    pub(super) allow_ips: Option<Vec<String>>,
    pub(super) rate_limit: Option<RawRateLimit>,
    pub(super) dedup: Option<RawRouteDedup>,
    pub(super) delivery: Option<RawDelivery>,
    /// aws-sns: where signing certificates may be fetched from (one pattern or a list).
    pub(super) cert_url_pattern: Option<OneOrMany>,
    /// aws-sns: the topics whose messages are accepted.
    pub(super) topic_arns: Option<Vec<String>>,
    /// aws-sns: hookguard visits a verified confirmation's SubscribeURL itself.
    pub(super) confirm_subscription: Option<bool>,
}

/// A key that takes one value or a list of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(super) fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(text) => vec![text],
            OneOrMany::Many(list) => list,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRateLimit {
    pub(super) per_second: f64,
    pub(super) burst: Option<u32>,
}

/// Exactly one scheme key; a struct rather than an enum so the YAML reads `verify: {hmac: ...}`.
/// `scheme` is the full description a preset is written in; `hmac` the short form for the commonest
/// senders, kept as it was for existing configs and read into the same description.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVerify {
    pub(super) scheme: Option<SchemeSpec>,
    pub(super) hmac: Option<RawHmac>,
    pub(super) query_token: Option<RawQueryToken>,
    pub(super) header_token: Option<RawHeaderToken>,
    /// A JWT in a header whose claims carry the body's hash (FusionAuth).
    pub(super) jwt: Option<crate::verify::jwt::JwtSpec>,
    pub(super) basic_auth: Option<RawBasicAuth>,
}

/// `verify: {basic_auth: {}}`: the secrets are `user:pass`; nothing else to set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBasicAuth {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHmac {
    pub(super) header: String,
    pub(super) algorithm: Option<String>,
    pub(super) encoding: Option<String>,
    pub(super) prefix: Option<String>,
    /// Signed content, such as `{timestamp}.{body}`; default `{body}`.
    pub(super) template: Option<String>,
    pub(super) timestamp_header: Option<String>,
    /// `s` (default), `ms` or `rfc3339`.
    pub(super) timestamp_unit: Option<String>,
    pub(super) id_header: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHeaderToken {
    pub(super) header: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQueryToken {
    pub(super) param: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSecret {
    pub(super) env: Option<String>,
    pub(super) file: Option<PathBuf>,
    pub(super) value: Option<String>,
    /// RFC 3339; the secret stops matching after this instant.
    pub(super) not_after: Option<String>,
}
