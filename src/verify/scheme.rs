//! Signature schemes as data: where the signatures are, how they are written, which bytes they cover
//! and how fresh the timestamp must be. One engine verifies every preset and every explicit `verify:`
//! scheme; [`super::spec`] is how they are written.
//!
//! - this file: algorithms, encodings, the [`Scheme`] and [`Scheme::prepare`], the request path.
//! - `signature`: header sets and how a header value carries signatures.
//! - `template`: the signed-content template and the message built from it.
//! - `timestamp`: where the timestamp is read and how fresh it must be.

mod signature;
mod template;
mod timestamp;

use std::borrow::Cow;
use std::time::SystemTime;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, Engine as _};
use http::{HeaderMap, HeaderName, Method};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub(crate) use self::signature::single_header;
use self::signature::SignatureSet;
pub use self::signature::{HeaderSet, SignatureFormat};
pub use self::template::{Part, SignedValues, Template, TemplateError};
pub use self::timestamp::{TimeUnit, TimestampRule, TimestampSource};
use super::Rejection;
use crate::body::RawBody;

/// Standard base64 that accepts input with or without `=` padding, as senders differ.
pub(crate) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// URL-safe base64 (`-` and `_`), with or without `=` padding: Sanity and JWS-style senders.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Named in YAML as [`Algorithm::as_str`] writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    #[serde(rename = "hmac-sha1")]
    HmacSha1,
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    #[serde(rename = "hmac-sha512")]
    HmacSha512,
    #[serde(rename = "ed25519")]
    Ed25519,
    #[serde(rename = "ecdsa-p256-sha256")]
    EcdsaP256Sha256,
    /// RSASSA-PKCS1-v1_5 (RFC 8017), keys of 2048 to 4096 bits in PEM.
    #[serde(rename = "rsa-pkcs1-sha256")]
    RsaPkcs1Sha256,
    #[serde(rename = "rsa-pkcs1-sha512")]
    RsaPkcs1Sha512,
    #[serde(rename = "rsa-pkcs1-sha1")]
    RsaPkcs1Sha1,
    /// RSASSA-PSS with MGF1-SHA-256 and a 32-byte salt, the digest's length.
    #[serde(rename = "rsa-pss-sha256")]
    RsaPssSha256,
}

impl Algorithm {
    pub fn parse_hmac(name: &str) -> Option<Self> {
        match name {
            "sha1" => Some(Algorithm::HmacSha1),
            "sha256" => Some(Algorithm::HmacSha256),
            "sha512" => Some(Algorithm::HmacSha512),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::HmacSha1 => "hmac-sha1",
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSha512 => "hmac-sha512",
            Algorithm::Ed25519 => "ed25519",
            Algorithm::EcdsaP256Sha256 => "ecdsa-p256-sha256",
            Algorithm::RsaPkcs1Sha256 => "rsa-pkcs1-sha256",
            Algorithm::RsaPkcs1Sha512 => "rsa-pkcs1-sha512",
            Algorithm::RsaPkcs1Sha1 => "rsa-pkcs1-sha1",
            Algorithm::RsaPssSha256 => "rsa-pss-sha256",
        }
    }

    pub fn is_hmac(self) -> bool {
        matches!(
            self,
            Algorithm::HmacSha1 | Algorithm::HmacSha256 | Algorithm::HmacSha512
        )
    }

    pub fn is_rsa(self) -> bool {
        matches!(
            self,
            Algorithm::RsaPkcs1Sha256
                | Algorithm::RsaPkcs1Sha512
                | Algorithm::RsaPkcs1Sha1
                | Algorithm::RsaPssSha256
        )
    }

    /// Whether a decoded signature has a plausible length, checked before any key is tried.
    fn accepts_len(self, len: usize) -> bool {
        match self {
            Algorithm::HmacSha1 => len == 20,
            Algorithm::HmacSha256 => len == 32,
            Algorithm::HmacSha512 => len == 64,
            Algorithm::Ed25519 => len == 64,
            // DER-encoded (r, s): 8 bytes at the least, 72 at the most for P-256.
            Algorithm::EcdsaP256Sha256 => (8..=72).contains(&len),
            // As long as the modulus: keys of 2048 to 4096 bits are accepted, and each key checks
            // the exact length against its own modulus.
            Algorithm::RsaPkcs1Sha256
            | Algorithm::RsaPkcs1Sha512
            | Algorithm::RsaPkcs1Sha1
            | Algorithm::RsaPssSha256 => (256..=512).contains(&len),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Hex,
    Base64,
    /// The URL-safe alphabet; padding optional. Written without padding, as Sanity does.
    Base64Url,
}

impl Encoding {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "hex" => Some(Encoding::Hex),
            "base64" => Some(Encoding::Base64),
            "base64url" => Some(Encoding::Base64Url),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Hex => "hex",
            Encoding::Base64 => "base64",
            Encoding::Base64Url => "base64url",
        }
    }

    pub fn decode(self, text: &[u8]) -> Option<Vec<u8>> {
        match self {
            // Either case of hex is accepted, as senders differ.
            // Into a buffer of the right size: hex::decode collects through an iterator of Results,
            // which costs more than the HMAC of a small body.
            Encoding::Hex => {
                let mut bytes = vec![0; text.len() / 2];
                hex::decode_to_slice(text, &mut bytes).ok().map(|()| bytes)
            }
            Encoding::Base64 => BASE64.decode(text).ok(),
            Encoding::Base64Url => BASE64URL.decode(text).ok(),
        }
    }

    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode(bytes),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
            Encoding::Base64Url => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        }
    }
}

/// A digest the sender takes of the signed content before signing, so that the signature covers the
/// digest rather than the content (Bridge signs the SHA-256 of `{t}.{body}` with RSA-SHA256).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Prehash {
    Sha256,
}

/// A complete signature scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheme {
    pub algorithm: Algorithm,
    pub encoding: Encoding,
    pub header_sets: Vec<HeaderSet>,
    /// Mailgun puts the signature in the body rather than a header: a JSON pointer.
    pub signature_in_body: Option<String>,
    pub format: SignatureFormat,
    pub template: Template,
    pub timestamp: Option<TimestampRule>,
    /// Twilio signs JSON bodies indirectly: the URL carries `bodySHA256=<hex>`, checked here.
    pub body_sha256_param: Option<String>,
    pub prehash: Option<Prehash>,
}

/// The request as verification sees it.
pub struct RequestView<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    pub query: Option<&'a str>,
    pub body: &'a RawBody,
    pub public_url: Option<&'a str>,
    pub now: SystemTime,
}

/// The body parsed as JSON at most once, only for schemes that read it.
pub struct LazyJson<'a> {
    body: &'a RawBody,
    parsed: std::cell::OnceCell<Option<Value>>,
}

impl<'a> LazyJson<'a> {
    pub fn new(body: &'a RawBody) -> Self {
        LazyJson {
            body,
            parsed: std::cell::OnceCell::new(),
        }
    }

    /// The text at `pointer`: a string's content, or a number as written.
    pub fn text(&self, pointer: &str) -> Option<String> {
        let value = self
            .parsed
            .get_or_init(|| serde_json::from_slice(self.body.contiguous()).ok());
        match value.as_ref()?.pointer(pointer)? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    }
}

/// The most signature sets one request may carry (Persona sends two while a secret rotates).
pub const MAX_SIGNATURE_SETS: usize = 4;

/// Everything extracted from a request, ready for the keys: one attempt per signature set. Most
/// requests carry one set; a sender rotating its secret may send several, each over its own
/// timestamp, and any one that verifies is enough.
pub struct Prepared<'a> {
    pub attempts: Vec<Attempt<'a>>,
}

/// One set's decoded signatures and the content they must sign. The message borrows the body: a
/// megabyte delivery is hashed where it lies, never copied.
pub struct Attempt<'a> {
    pub candidates: Vec<Vec<u8>>,
    pub message: Vec<Cow<'a, [u8]>>,
}

/// The signature texts found in a request, before decoding, and the header set they came from.
struct Found<'a> {
    /// `None` only for a scheme that signs inside the body and names no header set.
    set: Option<&'a HeaderSet>,
    /// One group per signature set; the timestamp is the one written in the signature header.
    groups: Vec<Group>,
}

struct Group {
    texts: Vec<Vec<u8>>,
    field_timestamp: Option<Vec<u8>>,
}

/// A group whose signatures decode and whose timestamp, if signed, is fresh.
struct CheckedGroup {
    candidates: Vec<Vec<u8>>,
    timestamp: Option<Vec<u8>>,
}

impl Scheme {
    /// The header set this request uses, or `None` when none of its signature headers is present.
    pub fn header_set(&self, headers: &HeaderMap) -> Option<&HeaderSet> {
        self.header_sets
            .iter()
            .find(|set| set.signatures.iter().any(|name| headers.contains_key(name)))
    }

    /// Where this scheme looks for its signature, for the log line of a `missing_signature`: the
    /// configured header names (or the body's JSON pointer), never anything the request sent.
    pub fn expected_signature(&self) -> String {
        if let Some(pointer) = &self.signature_in_body {
            return format!("body:{pointer}");
        }
        let names: Vec<&str> = self
            .header_sets
            .iter()
            .flat_map(|set| set.signatures.iter().map(HeaderName::as_str))
            .collect();
        names.join(",")
    }

    /// The request's signed timestamp's age and the scheme's tolerance, in seconds, for the log
    /// line of a stale or future timestamp. Read again from the request only on that path.
    pub fn timestamp_skew(&self, request: &RequestView<'_>) -> Option<(i64, u64)> {
        let rule = self.timestamp.as_ref()?;
        let tolerance = rule.tolerance?.as_secs();
        let json = LazyJson::new(request.body);
        let Found { set, groups } = self.find_signatures(request.headers, &json).ok()?;
        let group = groups.into_iter().next()?;
        let age = rule.age(set, group.field_timestamp, request, &json)?;
        Some((age, tolerance))
    }

    /// The checks that need no body: the signature header is there (when it lives in a header).
    pub fn precheck(&self, headers: &HeaderMap) -> Result<(), Rejection> {
        if self.signature_in_body.is_some() {
            return Ok(());
        }
        let set = self
            .header_set(headers)
            .ok_or(Rejection::MissingSignature)?;
        for name in &set.signatures {
            single_header(headers, name)?;
        }
        Ok(())
    }

    /// Extracts candidates, checks the timestamp and builds the signed content. The steps run in
    /// this order so that a request is refused for the first thing wrong with it. A set whose
    /// signatures or timestamp fail is dropped; when every set fails, the first set's reason stands.
    pub fn prepare<'a>(&'a self, request: &RequestView<'a>) -> Result<Prepared<'a>, Rejection> {
        let json = LazyJson::new(request.body);
        let Found { set, groups } = self.find_signatures(request.headers, &json)?;
        let mut usable: Vec<CheckedGroup> = Vec::with_capacity(groups.len());
        let mut first_error = None;
        for group in &groups {
            match self.check_group(group, set, request, &json) {
                Ok(checked) => usable.push(checked),
                Err(why) => {
                    first_error.get_or_insert(why);
                }
            }
        }
        if usable.is_empty() {
            return Err(first_error.unwrap_or(Rejection::MalformedSignature));
        }
        if let Some(param) = &self.body_sha256_param {
            self.check_body_sha256(param, request)?;
        }
        let id = self.signed_header(set, request.headers, &Part::Id, |s| s.id.as_ref())?;
        let nonce = self.signed_header(set, request.headers, &Part::Nonce, |s| s.nonce.as_ref())?;
        let attempts = usable
            .into_iter()
            .map(
                |CheckedGroup {
                     candidates,
                     timestamp,
                 }| {
                    let values = SignedValues {
                        timestamp,
                        id,
                        nonce,
                    };
                    let message = self.digested(self.message_with(request, set, &values, &json)?);
                    Ok(Attempt {
                        candidates,
                        message,
                    })
                },
            )
            .collect::<Result<_, Rejection>>()?;
        Ok(Prepared { attempts })
    }

    /// One set's decoded signatures and, where the scheme signs one, its fresh timestamp.
    fn check_group(
        &self,
        group: &Group,
        set: Option<&HeaderSet>,
        request: &RequestView<'_>,
        json: &LazyJson<'_>,
    ) -> Result<CheckedGroup, Rejection> {
        let candidates = self.decode_candidates(&group.texts)?;
        let timestamp = match &self.timestamp {
            None => None,
            Some(rule) => {
                Some(rule.fresh_text(set, group.field_timestamp.clone(), request, json)?)
            }
        };
        Ok(CheckedGroup {
            candidates,
            timestamp,
        })
    }

    /// The message as the key signs it: the content itself, or its digest where the sender hashes
    /// it first.
    pub(crate) fn digested<'a>(&self, message: Vec<Cow<'a, [u8]>>) -> Vec<Cow<'a, [u8]>> {
        match self.prehash {
            None => message,
            Some(Prehash::Sha256) => {
                use sha2::Digest as _;
                let mut digest = sha2::Sha256::new();
                for part in &message {
                    digest.update(part);
                }
                vec![Cow::Owned(digest.finalize().to_vec())]
            }
        }
    }

    /// The signature texts as written, from the body or from the first header set present. The
    /// headers of one set (Box's PRIMARY and SECONDARY) pool their signatures into one group,
    /// except where the format carries several sets, each kept with its own timestamp.
    fn find_signatures<'a>(
        &'a self,
        headers: &HeaderMap,
        json: &LazyJson<'_>,
    ) -> Result<Found<'a>, Rejection> {
        if let Some(pointer) = &self.signature_in_body {
            let text = json.text(pointer).ok_or(Rejection::MissingSignature)?;
            return Ok(Found {
                set: self.header_sets.first(),
                groups: vec![Group {
                    texts: vec![text.into_bytes()],
                    field_timestamp: None,
                }],
            });
        }
        let set = self
            .header_set(headers)
            .ok_or(Rejection::MissingSignature)?;
        let mut groups: Vec<Group> = Vec::new();
        for name in &set.signatures {
            let Some(value) = single_header(headers, name)? else {
                continue;
            };
            for SignatureSet { texts, timestamp } in self.format.split(value)? {
                let texts = texts.into_iter().map(<[u8]>::to_vec);
                let timestamp = timestamp.map(<[u8]>::to_vec);
                match groups.last_mut() {
                    Some(pooled) if !self.format.has_sets() => {
                        pooled.texts.extend(texts);
                        if timestamp.is_some() {
                            pooled.field_timestamp = timestamp;
                        }
                    }
                    _ => groups.push(Group {
                        texts: texts.collect(),
                        field_timestamp: timestamp,
                    }),
                }
            }
        }
        // Each set costs a MAC over the whole body per key; an unsigned header must not buy
        // hundreds of them. Senders send two while a secret rotates.
        if groups.len() > MAX_SIGNATURE_SETS {
            return Err(Rejection::MalformedSignature);
        }
        if groups.is_empty() {
            groups.push(Group {
                texts: Vec::new(),
                field_timestamp: None,
            });
        }
        Ok(Found {
            set: Some(set),
            groups,
        })
    }

    /// The signatures as bytes. A malformed candidate next to a good one is skipped: senders add
    /// versions we do not know.
    fn decode_candidates(&self, texts: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, Rejection> {
        if texts.iter().all(|c| c.is_empty()) {
            return Err(if texts.is_empty() {
                Rejection::MalformedSignature
            } else {
                Rejection::MissingSignature
            });
        }
        let candidates: Vec<Vec<u8>> = texts
            .iter()
            .filter_map(|text| self.encoding.decode(text))
            .filter(|bytes| self.algorithm.accepts_len(bytes.len()))
            .collect();
        if candidates.is_empty() {
            return Err(Rejection::MalformedSignature);
        }
        Ok(candidates)
    }

    /// The value of a header the template signs (`{id}`, `{nonce}`), read from the header set's
    /// field for it; a scheme that signs it requires it.
    fn signed_header<'h>(
        &self,
        set: Option<&HeaderSet>,
        headers: &'h HeaderMap,
        part: &Part,
        field: impl Fn(&HeaderSet) -> Option<&HeaderName>,
    ) -> Result<Option<&'h [u8]>, Rejection> {
        let missing = match part {
            Part::Nonce => Rejection::MissingNonce,
            _ => Rejection::MissingId,
        };
        match (self.template.needs(part), set.and_then(field)) {
            (false, _) => Ok(None),
            (true, None) => Err(missing),
            (true, Some(name)) => Ok(Some(single_header(headers, name)?.ok_or(missing)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_signatures_decode_in_either_case_and_nothing_else_does() {
        assert_eq!(Encoding::Hex.decode(b"0aFf"), Some(vec![0x0a, 0xff]));
        assert_eq!(Encoding::Hex.decode(b""), Some(vec![]));
        for bad in [&b"0aF"[..], b"zz", b"0a f", b"0x0a"] {
            assert_eq!(Encoding::Hex.decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn base64url_decodes_with_or_without_padding_and_only_its_alphabet() {
        let bytes = vec![0xfb, 0xff, 0xbf];
        assert_eq!(Encoding::Base64Url.encode(&bytes), "-_-_");
        assert_eq!(Encoding::Base64Url.decode(b"-_-_"), Some(bytes));
        assert_eq!(Encoding::Base64Url.decode(b"_w"), Some(vec![0xff]));
        assert_eq!(Encoding::Base64Url.decode(b"_w=="), Some(vec![0xff]));
        for bad in [&b"+/+/"[..], b"not base64!"] {
            assert_eq!(Encoding::Base64Url.decode(bad), None, "{bad:?}");
        }
        assert_eq!(Encoding::parse("base64url"), Some(Encoding::Base64Url));
        assert_eq!(Encoding::Base64Url.as_str(), "base64url");
    }
}
