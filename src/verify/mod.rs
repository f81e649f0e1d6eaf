//! Pure webhook verification: request parts and raw body bytes in, accept or a named rejection out.
//!
//! Nothing here does I/O. Keys are prepared once when the config is loaded, so the request path only
//! clones a ready keyed state and hashes the body.

pub mod hmac;
pub mod presets;
pub mod query_token;

use std::borrow::Cow;
use std::fmt;

use http::request::Parts;

pub use self::hmac::{Algorithm, Encoding, HmacScheme, HmacVerifier};
pub use self::query_token::QueryTokenVerifier;

/// Why a request was refused. It is written to the log, never sent to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    MissingSignature,
    DuplicatedSignature,
    MalformedSignature,
    SignatureMismatch,
}

impl Rejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::MissingSignature => "missing_signature",
            Rejection::DuplicatedSignature => "duplicated_signature",
            Rejection::MalformedSignature => "malformed_signature",
            Rejection::SignatureMismatch => "signature_mismatch",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secret as bytes. Its `Debug` never shows the value, so it cannot leak through a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// A route's scheme together with its prepared keys.
#[derive(Debug)]
pub enum Verifier {
    Hmac(HmacVerifier),
    QueryToken(QueryTokenVerifier),
}

impl Verifier {
    /// The checks that need no body, so a request without a signature is refused before it is read.
    pub fn precheck(&self, parts: &Parts) -> Result<(), Rejection> {
        match self {
            Verifier::Hmac(v) => v.signature_value(&parts.headers).map(drop),
            Verifier::QueryToken(v) => v.verify(parts.uri.query()),
        }
    }

    pub fn verify(&self, parts: &Parts, body: &[u8]) -> Result<(), Rejection> {
        match self {
            Verifier::Hmac(v) => v.verify(&parts.headers, body),
            Verifier::QueryToken(v) => v.verify(parts.uri.query()),
        }
    }

    /// The query string the app should see: a query token is a credential and is removed.
    pub fn forwarded_query<'a>(&self, query: Option<&'a str>) -> Option<Cow<'a, str>> {
        match self {
            Verifier::Hmac(_) => query.map(Cow::Borrowed),
            Verifier::QueryToken(v) => v.strip(query).map(Cow::Owned),
        }
    }
}
