//! Provider presets as data. A preset names a scheme (a [`SchemeSpec`], the same description
//! `verify: {scheme: ...}` in YAML is written in), its default methods, where the provider puts the
//! event type and delivery id, and any setup handshake. Adding a sender that fits an existing shape is
//! one row. Each row cites the documentation or SDK it was checked against.
//!
//! This file is the preset type and the lookup. `catalog` holds the rows, one file per family of
//! senders, built from the common shapes in `shapes`; `sign` signs as a sender would, `markdown`
//! renders the README table, `tests` checks every row against its known-answer vectors.

mod catalog;
mod markdown;
pub(crate) mod shapes;
mod sign;
#[cfg(test)]
mod tests;

use std::sync::LazyLock;

use http::{HeaderName, Method};

use super::handshake::Handshake;
pub use super::spec::{HeaderSetSpec, SchemeSpec, TimestampSpec};
use super::{Field, TokenSource};

pub use self::markdown::markdown_table;
pub use self::sign::Outgoing;

#[derive(Debug, Clone)]
pub enum Spec {
    Signature(SchemeSpec),
    HeaderToken(&'static str),
    /// A JWT carrying the body's hash, the same description as YAML `verify: {jwt: ...}`.
    Jwt(super::jwt::JwtSpec),
    /// A token in the named query parameter, removed before the app sees the request.
    QueryToken(&'static str),
    /// HTTP basic auth; the route's secrets are written `user:pass`.
    BasicAuth,
    /// Amazon SNS: an RSA signature in the body over SNS's canonical string, with the certificate
    /// named by the message's `SigningCertURL` (see [`super::sns`]).
    AwsSns,
}

#[derive(Debug)]
pub struct Preset {
    pub name: &'static str,
    pub description: &'static str,
    pub spec: Spec,
    pub methods: &'static [Method],
    pub event: Option<Field>,
    pub delivery_id: Option<Field>,
    pub handshake: Handshake,
}

static PRESETS: LazyLock<Vec<Preset>> = LazyLock::new(catalog::table);

/// Every preset, by name: the order `hookguard providers` and the README list them in.
pub fn all() -> &'static [Preset] {
    &PRESETS
}

pub fn find(name: &str) -> Option<&'static Preset> {
    all().iter().find(|preset| preset.name == name)
}

fn header_name(name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("{name:?} is not a header name"))
}

impl Spec {
    /// The token source of a header-token preset, or `None` for signature presets.
    pub fn token_source(&self) -> Result<Option<TokenSource>, String> {
        match self {
            Spec::HeaderToken(name) => Ok(Some(TokenSource::Header(header_name(name)?))),
            Spec::BasicAuth => Ok(Some(TokenSource::Basic)),
            Spec::QueryToken(param) => Ok(Some(TokenSource::Query(param.to_string()))),
            Spec::Signature(_) | Spec::Jwt(_) | Spec::AwsSns => Ok(None),
        }
    }
}
