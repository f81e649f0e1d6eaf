//! Pure webhook verification: request parts, raw body bytes and the clock in; accept or a named
//! rejection out. Nothing here does I/O.
//!
//! - [`scheme`]: a signature scheme as data and [`Scheme::prepare`], the request path; within it
//!   `signature` (header sets, signature formats), `template` (signed content) and `timestamp`
//!   (timestamp rules and freshness).
//! - [`keys`]: keys prepared once at load (keyed HMAC states, parsed public keys, `not_after`).
//! - [`token`]: shared tokens in the query or a header.
//! - [`jwt`]: a JWT in a header whose claims carry the body's hash (FusionAuth).
//! - [`handshake`]: setup challenges hookguard answers itself.
//! - [`sns`]: Amazon SNS messages, checked against a certificate handed in (fetched elsewhere).
//! - [`spec`]: the one written description of a scheme, for presets and `verify: {scheme: ...}`;
//!   within it `yaml`, a preset written out as a `verify:` block.
//! - [`presets`]: the providers, as table rows over the above; within it `sign` (what a sender
//!   attaches), `markdown` (the README table) and the known-answer tests.

pub mod handshake;
pub mod jwt;
pub mod keys;
pub mod presets;
pub mod scheme;
pub mod sns;
pub mod spec;
pub mod token;
#[cfg(test)]
pub(crate) mod vector_cases;

use std::borrow::Cow;
use std::fmt;
use std::time::SystemTime;

use http::HeaderMap;
use subtle::Choice;

pub use self::keys::{Key, KeyError, KeyFormat};
pub use self::scheme::{Algorithm, Encoding, RequestView, Scheme, SignatureFormat, TimeUnit};
pub use self::sns::SnsVerifier;
pub use self::token::{TokenSource, TokenVerifier};

/// Why a request was refused. It is written to the log, never sent to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    MissingSignature,
    DuplicatedSignature,
    MalformedSignature,
    SignatureMismatch,
    MissingTimestamp,
    MalformedTimestamp,
    StaleTimestamp,
    FutureTimestamp,
    MissingId,
    /// The nonce header the signature covers (Plivo V3) is absent.
    MissingNonce,
    /// Every secret of the route is past its `not_after`.
    NoActiveSecret,
    /// The scheme's signature would not cover this body (Twilio JSON without `bodySHA256`).
    UnsignedBody,
    /// An SNS body that is not an SNS message: not JSON, a field missing or given twice, an
    /// unknown `Type`.
    MalformedMessage,
    /// An SNS `SignatureVersion` other than 1 or 2.
    UnknownSignatureVersion,
    /// An SNS `SigningCertURL` off the route's `cert_url_pattern`, refused before any fetch.
    CertUrlNotAllowed,
    /// An SNS `TopicArn` not in the route's `topic_arns`.
    TopicNotAllowed,
    /// An SNS `SubscribeURL` off the certificate hosts, on a route that confirms subscriptions.
    SubscribeUrlNotAllowed,
    /// The SNS signing certificate has not been fetched (only where nothing fetches: `explain`).
    CertificateNotCached,
}

impl Rejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::MissingSignature => "missing_signature",
            Rejection::DuplicatedSignature => "duplicated_signature",
            Rejection::MalformedSignature => "malformed_signature",
            Rejection::SignatureMismatch => "signature_mismatch",
            Rejection::MissingTimestamp => "missing_timestamp",
            Rejection::MalformedTimestamp => "malformed_timestamp",
            Rejection::StaleTimestamp => "stale_timestamp",
            Rejection::FutureTimestamp => "future_timestamp",
            Rejection::MissingId => "missing_id",
            Rejection::MissingNonce => "missing_nonce",
            Rejection::NoActiveSecret => "no_active_secret",
            Rejection::UnsignedBody => "unsigned_body",
            Rejection::MalformedMessage => "malformed_message",
            Rejection::UnknownSignatureVersion => "unknown_signature_version",
            Rejection::CertUrlNotAllowed => "cert_url_not_allowed",
            Rejection::TopicNotAllowed => "topic_not_allowed",
            Rejection::SubscribeUrlNotAllowed => "subscribe_url_not_allowed",
            Rejection::CertificateNotCached => "certificate_not_cached",
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

/// Where a provider puts a piece of information such as the event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Header(&'static str),
    /// A JSON pointer into the body.
    Json(&'static str),
}

impl Field {
    pub fn read(&self, headers: &HeaderMap, body: &crate::body::RawBody) -> Option<String> {
        match self {
            Field::Header(name) => headers.get(*name)?.to_str().ok().map(str::to_string),
            Field::Json(pointer) => scheme::LazyJson::new(body).text(pointer),
        }
    }
}

/// A signature scheme with its prepared keys.
pub struct SignatureVerifier {
    scheme: Scheme,
    keys: Vec<Key>,
}

impl fmt::Debug for SignatureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureVerifier")
            .field("scheme", &self.scheme)
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl SignatureVerifier {
    /// The scheme with a key for each secret; a secret that is not a key is named by its index.
    pub fn new(
        scheme: Scheme,
        key_format: KeyFormat,
        secrets: &[(Secret, Option<SystemTime>)],
    ) -> Result<Self, (usize, KeyError)> {
        let keys = secrets
            .iter()
            .enumerate()
            .map(|(i, (secret, not_after))| {
                Key::new(scheme.algorithm, key_format, secret, *not_after).map_err(|e| (i, e))
            })
            .collect::<Result<_, _>>()?;
        Ok(SignatureVerifier { scheme, keys })
    }

    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    pub fn verify(&self, request: &RequestView<'_>) -> Result<(), Rejection> {
        self.verify_matched(request).map(|_| ())
    }

    /// Verifies, and says which secret matched: the first active one, by position. Every active key
    /// is tried on every set and the position is chosen in constant time, so timing does not say
    /// which one matched.
    pub fn verify_matched(&self, request: &RequestView<'_>) -> Result<usize, Rejection> {
        let prepared = self.scheme.prepare(request)?;
        let active = self
            .keys
            .iter()
            .enumerate()
            .filter(|(_, key)| key.is_active(request.now));
        first_match(active.map(|(i, key)| (i, matches_any(key, &prepared))))
    }

    /// The positions of the active secrets that verify this request, each tried on its own, for
    /// `hookguard explain`. Each comparison is the same constant-time one `verify` makes; only the
    /// proxy's answer must not say which key matched, and it does not call this.
    pub fn matching_keys(&self, request: &RequestView<'_>) -> Result<Vec<usize>, Rejection> {
        let prepared = self.scheme.prepare(request)?;
        Ok(self
            .keys
            .iter()
            .enumerate()
            .filter(|(_, key)| key.is_active(request.now))
            .filter(|(_, key)| bool::from(matches_any(key, &prepared)))
            .map(|(i, _)| i)
            .collect())
    }

    /// The MAC of `data` under the first active HMAC key, for handshakes that prove we hold it.
    pub fn first_active_mac(&self, data: &[u8], now: SystemTime) -> Option<Vec<u8>> {
        let message = [Cow::Borrowed(data)];
        self.keys
            .iter()
            .filter(|key| key.is_active(now))
            .find_map(|key| key.mac(&message))
    }

    /// The signature a sender would compute for this request with the first key, with the given
    /// timestamp, id and nonce texts standing in for the headers that would carry them.
    pub fn sign(
        &self,
        request: &RequestView<'_>,
        values: &scheme::SignedValues<'_>,
    ) -> Result<String, Rejection> {
        let message = self.scheme.digested(self.scheme.message(request, values)?);
        let mac = self
            .keys
            .first()
            .and_then(|key| key.mac(&message))
            .ok_or(Rejection::NoActiveSecret)?;
        Ok(self.scheme.encoding.encode(&mac))
    }
}

/// Whether `key` verifies any of the request's signature sets; every set is tried.
/// The position of the first candidate that matched, selected without a branch on which one did;
/// `NoActiveSecret` when there were none to try.
pub(crate) fn first_match(
    candidates: impl Iterator<Item = (usize, Choice)>,
) -> Result<usize, Rejection> {
    use subtle::ConditionallySelectable;
    let mut tried = false;
    let mut matched = Choice::from(0);
    let mut position = 0u64;
    for (i, here) in candidates {
        tried = true;
        position.conditional_assign(&(i as u64), here & !matched);
        matched |= here;
    }
    if !tried {
        return Err(Rejection::NoActiveSecret);
    }
    if bool::from(matched) {
        usize::try_from(position).map_err(|_| Rejection::SignatureMismatch)
    } else {
        Err(Rejection::SignatureMismatch)
    }
}

fn matches_any(key: &Key, prepared: &scheme::Prepared<'_>) -> Choice {
    prepared
        .attempts
        .iter()
        .fold(Choice::from(0), |any, attempt| {
            any | key.matches(&attempt.message, &attempt.candidates)
        })
}

/// A route's verification.
#[derive(Debug)]
pub enum Verifier {
    Signature(SignatureVerifier),
    Token(TokenVerifier),
    Jwt(jwt::JwtVerifier),
    /// Amazon SNS: the certificate is fetched by the proxy before [`SnsVerifier::verify`].
    Sns(SnsVerifier),
}

impl Verifier {
    /// The positions of the secrets that verify this request on their own (see
    /// [`SignatureVerifier::matching_keys`]); for `hookguard explain`, never the request path.
    pub fn matching_secrets(&self, request: &RequestView<'_>) -> Result<Vec<usize>, Rejection> {
        match self {
            Verifier::Signature(v) => v.matching_keys(request),
            Verifier::Token(v) => v.matching_tokens(request.headers, request.query, request.now),
            Verifier::Jwt(v) => v.matching_keys(request.headers, request.body, request.now),
            Verifier::Sns(v) => v.verify(request).map(|()| Vec::new()),
        }
    }

    /// Verifies, and says which secret matched where the one pass can tell: for signatures and
    /// tokens always; for a JWT route only when it holds one secret (its keys are tried by the JWT
    /// library, which does not say which); never for SNS, whose key is the fetched certificate.
    pub fn verify_matched(&self, request: &RequestView<'_>) -> Result<Option<usize>, Rejection> {
        match self {
            Verifier::Signature(v) => v.verify_matched(request).map(Some),
            Verifier::Token(v) => v
                .verify_matched(request.headers, request.query, request.now)
                .map(Some),
            Verifier::Jwt(v) => v
                .verify(request.headers, request.body, request.now)
                .map(|()| (v.key_count() == 1).then_some(0)),
            Verifier::Sns(v) => v.verify(request).map(|()| None),
        }
    }

    /// Where the route expects its signature or token, for the log line of a
    /// `missing_signature`: names from the config (`?param` for a query token), never a value.
    pub fn expected_signature(&self) -> Option<String> {
        match self {
            Verifier::Signature(v) => Some(v.scheme.expected_signature()),
            Verifier::Token(v) => Some(match v.source() {
                TokenSource::Query(param) => format!("?{param}"),
                TokenSource::Header(name) => name.as_str().to_owned(),
                TokenSource::Basic => http::header::AUTHORIZATION.as_str().to_owned(),
            }),
            Verifier::Jwt(v) => Some(v.header().as_str().to_owned()),
            // SNS signs inside its JSON body.
            Verifier::Sns(_) => None,
        }
    }

    /// A signed timestamp's age and the route's tolerance, in seconds, for the log line of a
    /// stale or future timestamp (signature schemes; a JWT's times are its own claims).
    pub fn timestamp_skew(&self, request: &RequestView<'_>) -> Option<(i64, u64)> {
        match self {
            Verifier::Signature(v) => v.scheme.timestamp_skew(request),
            _ => None,
        }
    }

    /// The checks that need no body, so a request without a signature is refused before it is read.
    pub fn precheck(&self, headers: &HeaderMap, query: Option<&str>) -> Result<(), Rejection> {
        match self {
            Verifier::Signature(v) => v.scheme.precheck(headers),
            Verifier::Token(v) => v.precheck(headers, query),
            Verifier::Jwt(v) => v.precheck(headers),
            // Everything SNS signs is in the body.
            Verifier::Sns(_) => Ok(()),
        }
    }

    pub fn verify(&self, request: &RequestView<'_>) -> Result<(), Rejection> {
        match self {
            Verifier::Signature(v) => v.verify(request),
            Verifier::Token(v) => v.verify(request.headers, request.query, request.now),
            Verifier::Jwt(v) => v.verify(request.headers, request.body, request.now),
            Verifier::Sns(v) => v.verify(request),
        }
    }

    /// The delivery id, where the signature covers it (a template with `{id}`): only then is it safe
    /// as a dedup key, since an unsigned id can be changed by whoever replays a captured delivery.
    pub fn signed_delivery_id(&self, headers: &HeaderMap) -> Option<String> {
        let Verifier::Signature(v) = self else {
            return None;
        };
        if !v.scheme.template.needs(&scheme::Part::Id) {
            return None;
        }
        let name = v.scheme.header_set(headers)?.id.as_ref()?;
        headers.get(name)?.to_str().ok().map(str::to_string)
    }

    /// Whether the signature covers the request's query (a scheme that signs the URL). Where it does
    /// not, whoever replays a captured delivery can change the query freely, so nothing decided about
    /// the delivery (its dedup key) may depend on it. A token covers nothing of the request, so on a
    /// token route the query counts as the content.
    pub fn covers_query(&self) -> bool {
        match self {
            Verifier::Signature(v) => v.scheme.template.needs_url(),
            Verifier::Token(_) => true,
            // The JWT covers the body only.
            Verifier::Jwt(_) => false,
            Verifier::Sns(_) => false,
        }
    }

    /// Whether the route authenticates with HTTP basic auth, so a 401 says `WWW-Authenticate: Basic`.
    pub fn is_basic_auth(&self) -> bool {
        matches!(self, Verifier::Token(v) if *v.source() == TokenSource::Basic)
    }

    /// A header that carries the route's credential and is removed before the app sees the request:
    /// basic auth's `Authorization`, which is hookguard's to check, not the app's to keep or log.
    pub fn credential_header(&self) -> Option<http::HeaderName> {
        self.is_basic_auth().then_some(http::header::AUTHORIZATION)
    }

    /// The query the app should see when it differs from the request's: a query token is a
    /// credential and is removed. `None`: forward the query unchanged.
    pub fn rewritten_query(&self, query: Option<&str>) -> Option<Option<String>> {
        match self {
            Verifier::Token(v) if matches!(v.source(), TokenSource::Query(_)) => {
                Some(v.strip(query).map(Cow::into_owned))
            }
            Verifier::Signature(_) | Verifier::Token(_) | Verifier::Jwt(_) | Verifier::Sns(_) => {
                None
            }
        }
    }
}

#[cfg(test)]
mod first_match_tests {
    use super::*;

    #[test]
    fn the_first_matching_position_is_chosen_and_nothing_tried_is_no_active_secret() {
        let yes = || Choice::from(1);
        let no = || Choice::from(0);
        assert_eq!(
            first_match([(0, no()), (2, yes()), (3, yes())].into_iter()),
            Ok(2)
        );
        assert_eq!(first_match([(0, yes()), (1, yes())].into_iter()), Ok(0));
        assert_eq!(
            first_match([(0, no()), (1, no())].into_iter()),
            Err(Rejection::SignatureMismatch)
        );
        assert_eq!(
            first_match(std::iter::empty()),
            Err(Rejection::NoActiveSecret)
        );
    }
}
