//! Signature schemes as data: where the signatures are, how they are written, which bytes they cover
//! and how fresh the timestamp must be. One engine verifies every preset and every explicit `verify:`
//! scheme; [`super::spec`] is how they are written.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, Engine as _};
use http::{HeaderMap, HeaderName, Method};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Rejection;
use crate::body::RawBody;

/// Standard base64 that accepts input with or without `=` padding, as senders differ.
pub(crate) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
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
        }
    }

    pub fn is_hmac(self) -> bool {
        matches!(
            self,
            Algorithm::HmacSha1 | Algorithm::HmacSha256 | Algorithm::HmacSha512
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
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Hex,
    Base64,
}

impl Encoding {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "hex" => Some(Encoding::Hex),
            "base64" => Some(Encoding::Base64),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Hex => "hex",
            Encoding::Base64 => "base64",
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
        }
    }

    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode(bytes),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }
}

/// How one signature header carries its signature(s). In YAML a map whose `style` names the variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "style", rename_all = "lowercase", deny_unknown_fields)]
pub enum SignatureFormat {
    /// The whole value is one signature after one of `prefixes` (`""` among them: bare is fine too).
    Whole {
        #[serde(default)]
        prefixes: Vec<String>,
    },
    /// Items split on `separator`; those starting with a prefix are signatures, others (unknown
    /// versions) are ignored. Standard Webhooks: `v1,<b64> v1,<b64>`; PagerDuty: `v1=<hex>,v1=<hex>`.
    List {
        separator: char,
        prefixes: Vec<String>,
    },
    /// `key=value` fields split on `separator`: Stripe's `t=...,v1=...,v1=...`, Paddle's `ts=...;h1=...`.
    Fields {
        separator: char,
        signature_keys: Vec<String>,
        timestamp_key: Option<String>,
    },
}

/// Where the timestamp comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampSource {
    /// The header set's timestamp header.
    Header,
    /// The `timestamp_key` field of the signature header.
    SignatureField,
    /// A JSON pointer into the body (Linear's `/webhookTimestamp`, Mailgun's `/signature/timestamp`).
    Json(String),
}

/// Named in YAML `s`, `ms` and `rfc3339`, as `verify: {hmac: {timestamp_unit}}` always has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeUnit {
    #[serde(rename = "s")]
    Seconds,
    #[serde(rename = "ms")]
    Millis,
    #[serde(rename = "rfc3339")]
    Rfc3339,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampRule {
    pub source: TimestampSource,
    pub unit: TimeUnit,
    /// `None`: signed, but no freshness window is enforced.
    pub tolerance: Option<Duration>,
    /// Most senders are checked both ways; Stripe and HubSpot only refuse old timestamps.
    pub reject_future: bool,
}

/// The headers one delivery uses. A scheme may know several sets (Svix's `svix-*` and Standard
/// Webhooks' `webhook-*`); the first whose signature header is present is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSet {
    /// Each listed header is a source of candidates: Box sends PRIMARY and SECONDARY.
    pub signatures: Vec<HeaderName>,
    pub timestamp: Option<HeaderName>,
    pub id: Option<HeaderName>,
}

/// One piece of the signed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Literal(Vec<u8>),
    Body,
    Timestamp,
    Id,
    Method,
    /// The route's `public_url`, plus `?query` when the request has one.
    Url,
    /// As `Url`, with the characters HubSpot v3 decodes before signing.
    UrlHubspot,
    /// Form fields of an urlencoded body, sorted by name, written name+value (Twilio, Mandrill).
    SortedFormParams,
    /// A JSON pointer into the body, written as the string or number found there.
    Json(String),
}

/// The signed content: `{timestamp}.{body}` and the like, parsed once at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(pub Vec<Part>);

/// Why a text is not a [`Template`]; each message quotes the template as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `{{` in template {text:?}")]
    Unclosed { text: String },
    #[error("unknown placeholder {{{name}}} in template {text:?}")]
    UnknownPlaceholder { name: String, text: String },
    #[error("template {text:?} covers nothing of the request")]
    CoversNothing { text: String },
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            literal.extend_from_slice(&rest.as_bytes()[..open]);
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| TemplateError::Unclosed {
                    text: text.to_string(),
                })?;
            let name = &rest[open + 1..open + close];
            let part = match name {
                "body" => Part::Body,
                "timestamp" => Part::Timestamp,
                "id" => Part::Id,
                "method" => Part::Method,
                "url" => Part::Url,
                "url_hubspot" => Part::UrlHubspot,
                "form_params" => Part::SortedFormParams,
                _ => match name.strip_prefix("json:") {
                    Some(pointer) if pointer.starts_with('/') => Part::Json(pointer.to_string()),
                    _ => {
                        return Err(TemplateError::UnknownPlaceholder {
                            name: name.to_string(),
                            text: text.to_string(),
                        })
                    }
                },
            };
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(part);
            rest = &rest[open + close + 1..];
        }
        literal.extend_from_slice(rest.as_bytes());
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        if !parts.contains(&Part::Body)
            && !parts
                .iter()
                .any(|p| matches!(p, Part::Json(_) | Part::SortedFormParams | Part::Url))
        {
            return Err(TemplateError::CoversNothing {
                text: text.to_string(),
            });
        }
        Ok(Template(parts))
    }

    pub fn needs(&self, wanted: &Part) -> bool {
        self.0.contains(wanted)
    }

    pub fn needs_url(&self) -> bool {
        self.0
            .iter()
            .any(|p| matches!(p, Part::Url | Part::UrlHubspot))
    }
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

/// Everything extracted from a request, ready for the keys. The message borrows the body: a
/// megabyte delivery is hashed where it lies, never copied.
pub struct Prepared<'a> {
    pub candidates: Vec<Vec<u8>>,
    pub message: Vec<Cow<'a, [u8]>>,
}

/// The one value of a header, refusing duplicates: a proxy between could pick either copy.
fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'h [u8]>, Rejection> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Rejection::DuplicatedSignature);
    }
    Ok(Some(first.as_bytes()))
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

fn seconds_since_epoch(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// Parses a timestamp into whole seconds since the epoch.
fn parse_timestamp(text: &str, unit: TimeUnit) -> Option<i64> {
    match unit {
        TimeUnit::Seconds => text.parse::<i64>().ok(),
        TimeUnit::Millis => text.parse::<i64>().ok().map(|ms| ms.div_euclid(1000)),
        TimeUnit::Rfc3339 => humantime::parse_rfc3339_weak(text)
            .ok()
            .or_else(|| rfc3339_with_offset(text))
            .map(seconds_since_epoch),
    }
}

/// RFC 3339 with a numeric offset (`-07:00`), which humantime leaves to the caller.
fn rfc3339_with_offset(text: &str) -> Option<SystemTime> {
    let (local, sign, offset) = match text.len().checked_sub(6).map(|i| text.split_at(i)) {
        Some((local, offset)) if offset.starts_with('+') => (local, 1i64, &offset[1..]),
        Some((local, offset)) if offset.starts_with('-') => (local, -1i64, &offset[1..]),
        _ => return None,
    };
    let (hours, minutes) = offset.split_once(':')?;
    let offset_s = sign * (hours.parse::<i64>().ok()? * 3600 + minutes.parse::<i64>().ok()? * 60);
    let as_utc = humantime::parse_rfc3339_weak(local).ok()?;
    let shift = Duration::from_secs(offset_s.unsigned_abs());
    // Local time minus its offset is UTC: +02:00 means two hours ahead of UTC.
    if offset_s >= 0 {
        as_utc.checked_sub(shift)
    } else {
        as_utc.checked_add(shift)
    }
}

/// Characters HubSpot decodes in the URI before signing (its "validating requests" v3 guide).
fn hubspot_decode(url: &str) -> String {
    const DECODED: [(&str, char); 12] = [
        ("%3A", ':'),
        ("%2F", '/'),
        ("%3F", '?'),
        ("%40", '@'),
        ("%21", '!'),
        ("%24", '$'),
        ("%27", '\''),
        ("%28", '('),
        ("%29", ')'),
        ("%2A", '*'),
        ("%2C", ','),
        ("%3B", ';'),
    ];
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let escape = rest.get(i..i + 3).unwrap_or("");
        match DECODED
            .iter()
            .find(|(code, _)| code.eq_ignore_ascii_case(escape))
        {
            Some((_, c)) => {
                out.push(*c);
                rest = &rest[i + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decoded form fields of an urlencoded body, sorted by name then value, each written name+value.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

fn sorted_form_params(headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
    if !is_form(headers) {
        return Vec::new();
    }
    let decode = |raw: &[u8]| -> Vec<u8> {
        let spaced: Vec<u8> = raw
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_encoding::percent_decode(&spaced).collect()
    };
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = body
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut halves = pair.splitn(2, |&b| b == b'=');
            let name = decode(halves.next().unwrap_or(b""));
            let value = decode(halves.next().unwrap_or(b""));
            (name, value)
        })
        .collect();
    pairs.sort();
    pairs
        .into_iter()
        .flat_map(|(name, value)| name.into_iter().chain(value))
        .collect()
}

impl Scheme {
    /// The header set this request uses, or `None` when none of its signature headers is present.
    pub fn header_set(&self, headers: &HeaderMap) -> Option<&HeaderSet> {
        self.header_sets
            .iter()
            .find(|set| set.signatures.iter().any(|name| headers.contains_key(name)))
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

    /// Splits one header value into raw signature texts and, for `Fields`, the timestamp field.
    fn split_value<'v>(
        &self,
        value: &'v [u8],
        out: &mut Vec<&'v [u8]>,
    ) -> Result<Option<&'v [u8]>, Rejection> {
        match &self.format {
            SignatureFormat::Whole { prefixes } => {
                let value = trim(value);
                let stripped = if prefixes.is_empty() {
                    Some(value)
                } else {
                    prefixes
                        .iter()
                        .find_map(|p| value.strip_prefix(p.as_bytes()))
                };
                out.push(stripped.ok_or(Rejection::MalformedSignature)?);
                Ok(None)
            }
            SignatureFormat::List {
                separator,
                prefixes,
            } => {
                let mut separator_bytes = [0u8; 4];
                let separator = separator.encode_utf8(&mut separator_bytes).as_bytes();
                for item in value.split(|b| separator.contains(b)).map(trim) {
                    if let Some(signature) = prefixes
                        .iter()
                        .find_map(|p| item.strip_prefix(p.as_bytes()))
                    {
                        out.push(signature);
                    }
                }
                Ok(None)
            }
            SignatureFormat::Fields {
                separator,
                signature_keys,
                timestamp_key,
            } => {
                let mut timestamp = None;
                for field in value.split(|&b| b as char == *separator).map(trim) {
                    let Some(eq) = field.iter().position(|&b| b == b'=') else {
                        continue;
                    };
                    let (key, text) = (trim(&field[..eq]), trim(&field[eq + 1..]));
                    if timestamp_key.as_ref().is_some_and(|k| k.as_bytes() == key) {
                        if timestamp.replace(text).is_some() {
                            return Err(Rejection::DuplicatedSignature);
                        }
                    } else if signature_keys.iter().any(|k| k.as_bytes() == key) {
                        out.push(text);
                    }
                }
                Ok(timestamp)
            }
        }
    }

    /// Extracts candidates, checks the timestamp and builds the signed content.
    pub fn prepare<'a>(&'a self, request: &RequestView<'a>) -> Result<Prepared<'a>, Rejection> {
        let json = LazyJson::new(request.body);
        let mut raw_candidates: Vec<Vec<u8>> = Vec::new();
        let mut field_timestamp: Option<Vec<u8>> = None;
        let set = match &self.signature_in_body {
            Some(pointer) => {
                let text = json.text(pointer).ok_or(Rejection::MissingSignature)?;
                raw_candidates.push(text.into_bytes());
                self.header_sets.first()
            }
            None => {
                let set = self
                    .header_set(request.headers)
                    .ok_or(Rejection::MissingSignature)?;
                for name in &set.signatures {
                    let Some(value) = single_header(request.headers, name)? else {
                        continue;
                    };
                    let mut texts = Vec::new();
                    if let Some(ts) = self.split_value(value, &mut texts)? {
                        field_timestamp = Some(ts.to_vec());
                    }
                    raw_candidates.extend(texts.into_iter().map(<[u8]>::to_vec));
                }
                Some(set)
            }
        };
        if raw_candidates.iter().all(|c| c.is_empty()) {
            return Err(if raw_candidates.is_empty() {
                Rejection::MalformedSignature
            } else {
                Rejection::MissingSignature
            });
        }
        // A malformed candidate next to a good one is skipped: senders add versions we do not know.
        let candidates: Vec<Vec<u8>> = raw_candidates
            .iter()
            .filter_map(|text| self.encoding.decode(text))
            .filter(|bytes| self.algorithm.accepts_len(bytes.len()))
            .collect();
        if candidates.is_empty() {
            return Err(Rejection::MalformedSignature);
        }

        let timestamp = match &self.timestamp {
            None => None,
            Some(rule) => {
                let text = match &rule.source {
                    TimestampSource::Header => {
                        let name = set
                            .and_then(|s| s.timestamp.as_ref())
                            .ok_or(Rejection::MissingTimestamp)?;
                        single_header(request.headers, name)?.map(<[u8]>::to_vec)
                    }
                    TimestampSource::SignatureField => field_timestamp,
                    TimestampSource::Json(pointer) => json.text(pointer).map(String::into_bytes),
                }
                .ok_or(Rejection::MissingTimestamp)?;
                let parsed = std::str::from_utf8(&text)
                    .ok()
                    .and_then(|t| parse_timestamp(t.trim(), rule.unit))
                    .ok_or(Rejection::MalformedTimestamp)?;
                if let Some(tolerance) = rule.tolerance {
                    let age = seconds_since_epoch(request.now).saturating_sub(parsed);
                    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
                    if age > tolerance {
                        return Err(Rejection::StaleTimestamp);
                    }
                    if rule.reject_future && age < tolerance.saturating_neg() {
                        return Err(Rejection::FutureTimestamp);
                    }
                }
                Some(text)
            }
        };

        if let Some(param) = &self.body_sha256_param {
            self.check_body_sha256(param, request)?;
        }

        let id = match (
            self.template.needs(&Part::Id),
            set.and_then(|s| s.id.as_ref()),
        ) {
            (false, _) => None,
            (true, None) => return Err(Rejection::MissingId),
            (true, Some(name)) => {
                Some(single_header(request.headers, name)?.ok_or(Rejection::MissingId)?)
            }
        };
        let message = self.message_with(request, timestamp, id, &json)?;
        Ok(Prepared {
            candidates,
            message,
        })
    }

    /// The signed content for a request whose timestamp and id texts are given, as a sender builds it.
    pub fn message<'a>(
        &'a self,
        request: &RequestView<'a>,
        timestamp: Option<Vec<u8>>,
        id: Option<&'a [u8]>,
    ) -> Result<Vec<Cow<'a, [u8]>>, Rejection> {
        self.message_with(request, timestamp, id, &LazyJson::new(request.body))
    }

    fn message_with<'a>(
        &'a self,
        request: &RequestView<'a>,
        timestamp: Option<Vec<u8>>,
        id: Option<&'a [u8]>,
        json: &LazyJson<'_>,
    ) -> Result<Vec<Cow<'a, [u8]>>, Rejection> {
        let mut message = Vec::with_capacity(self.template.0.len() + 4);
        for part in &self.template.0 {
            let bytes: Cow<'a, [u8]> = match part {
                Part::Literal(bytes) => Cow::Borrowed(bytes),
                Part::Body => {
                    message.extend(request.body.chunks().map(Cow::Borrowed));
                    continue;
                }
                Part::Timestamp => {
                    Cow::Owned(timestamp.clone().ok_or(Rejection::MissingTimestamp)?)
                }
                Part::Id => Cow::Borrowed(id.ok_or(Rejection::MissingId)?),
                Part::Method => Cow::Borrowed(request.method.as_str().as_bytes()),
                Part::Url | Part::UrlHubspot => {
                    let mut url = request.public_url.unwrap_or("").to_string();
                    if let Some(query) = request.query {
                        url.push('?');
                        url.push_str(query);
                    }
                    if *part == Part::UrlHubspot {
                        url = hubspot_decode(&url);
                    }
                    Cow::Owned(url.into_bytes())
                }
                Part::SortedFormParams => Cow::Owned(sorted_form_params(
                    request.headers,
                    request.body.contiguous(),
                )),
                Part::Json(pointer) => Cow::Owned(
                    json.text(pointer)
                        .ok_or(Rejection::MalformedSignature)?
                        .into_bytes(),
                ),
            };
            message.push(bytes);
        }
        Ok(message)
    }

    /// Twilio signs the URL and form fields only. A body that is not form fields is covered solely by
    /// the URL's `bodySHA256`, so without it the body would be unsigned: refused.
    fn check_body_sha256(&self, param: &str, request: &RequestView<'_>) -> Result<(), Rejection> {
        let declared = request.query.unwrap_or("").split('&').find_map(|pair| {
            pair.strip_prefix(param)
                .and_then(|rest| rest.strip_prefix('='))
        });
        match declared {
            Some(hex_digest) => {
                let mut digest = Sha256::new();
                for chunk in request.body.chunks() {
                    digest.update(chunk);
                }
                let actual = hex::encode(digest.finalize());
                if actual.eq_ignore_ascii_case(hex_digest) {
                    Ok(())
                } else {
                    Err(Rejection::SignatureMismatch)
                }
            }
            None if request.body.is_empty() || is_form(request.headers) => Ok(()),
            None => Err(Rejection::UnsignedBody),
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
    fn templates_parse_into_parts() {
        let t = Template::parse("v0:{timestamp}:{body}").expect("template");
        assert_eq!(
            t.0,
            vec![
                Part::Literal(b"v0:".to_vec()),
                Part::Timestamp,
                Part::Literal(b":".to_vec()),
                Part::Body
            ]
        );
        let t = Template::parse("{id}.{timestamp}.{body}").expect("template");
        assert_eq!(t.0.len(), 5);
        assert!(Template::parse("{json:/signature/timestamp}{json:/signature/token}").is_ok());
        for bad in ["{body", "{nope}", "{timestamp}", "{json:x}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_parse_in_each_unit() {
        assert_eq!(
            parse_timestamp("1614265330", TimeUnit::Seconds),
            Some(1_614_265_330)
        );
        assert_eq!(
            parse_timestamp("1614265330123", TimeUnit::Millis),
            Some(1_614_265_330)
        );
        assert_eq!(
            parse_timestamp("2021-02-25T15:02:10Z", TimeUnit::Rfc3339),
            Some(1_614_265_330)
        );
        assert_eq!(
            parse_timestamp("2021-02-25T07:02:10-08:00", TimeUnit::Rfc3339),
            Some(1_614_265_330)
        );
        assert_eq!(
            parse_timestamp("2021-02-25T17:02:10+02:00", TimeUnit::Rfc3339),
            Some(1_614_265_330)
        );
        for bad in ["", "abc", "12.5", "2021-02-25"] {
            assert_eq!(parse_timestamp(bad, TimeUnit::Seconds), None, "{bad}");
            assert_eq!(parse_timestamp(bad, TimeUnit::Rfc3339), None, "{bad}");
        }
    }

    #[test]
    fn hubspot_decodes_only_its_characters() {
        assert_eq!(
            hubspot_decode("https://x.test/a%3Ab%2fc?d=%40%20%2A%zz%"),
            "https://x.test/a:b/c?d=@%20*%zz%"
        );
    }

    #[test]
    fn form_params_sort_by_name_and_decode() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8"
                .parse()
                .expect("value"),
        );
        assert_eq!(
            sorted_form_params(&headers, b"To=%2B1555&Body=hi+there&AccountSid=AC1"),
            b"AccountSidAC1Bodyhi thereTo+1555".to_vec()
        );
        headers.insert("content-type", "application/json".parse().expect("value"));
        assert!(sorted_form_params(&headers, b"a=b").is_empty());
    }
}
