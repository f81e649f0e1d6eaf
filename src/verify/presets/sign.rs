//! What a sender attaches: [`Preset::sign`] signs an outgoing request as the provider would, for
//! `hookguard sign` and for the tests that check verification against it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, Method};

use super::{HeaderSetSpec, Preset, SchemeSpec, Spec};
use crate::body::RawBody;
use crate::verify::scheme::{SignatureFormat, SignedValues, TimeUnit, TimestampSource};
use crate::verify::{RequestView, Secret, SignatureVerifier};

/// What a sender's request looks like, for [`Preset::sign`].
pub struct Outgoing<'a> {
    pub method: Method,
    pub body: &'a [u8],
    /// The full URL given to the provider, for URL-signing presets.
    pub url: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub now: std::time::SystemTime,
}

impl Preset {
    /// The headers (name, value) a sender using this preset attaches, signed with `secret`. For a
    /// preset that signs inside the body (Mailgun), the name is the JSON pointer to fill in.
    pub fn sign(
        &self,
        secret: &Secret,
        outgoing: &Outgoing<'_>,
    ) -> Result<Vec<(String, String)>, String> {
        let spec = self.hmac_spec()?;
        let verifier = SignatureVerifier::new(
            spec.scheme().map_err(|e| e.to_string())?,
            spec.key_format,
            &[(secret.clone(), None)],
        )
        .map_err(|(_, error)| error.to_string())?;
        let since_epoch = outgoing.now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let timestamp = sender_timestamp(spec, outgoing.now, since_epoch);
        let headers = spec
            .header_sets
            .first()
            .cloned()
            .unwrap_or_else(|| super::shapes::headers(&[], None, None));
        let id = headers
            .id
            .as_ref()
            .map(|_| format!("msg_hookguard_{}", since_epoch.as_nanos()));
        let nonce = headers
            .nonce
            .as_ref()
            .map(|_| since_epoch.as_nanos().to_string());
        let mut extra = signed_header_list(&headers, timestamp.as_deref());
        let values = SignedValues {
            timestamp: timestamp.clone().map(String::into_bytes),
            id: id.as_deref().map(str::as_bytes),
            nonce: nonce.as_deref().map(str::as_bytes),
        };
        let signature = sign_request(&verifier, outgoing, &values, &extra)?;
        let value = signature_value(&spec.format, &signature, timestamp.as_deref());
        let nonce_header = headers.nonce.clone().zip(nonce);
        let mut out = self.attached_headers(spec, headers, value, timestamp, id)?;
        out.extend(nonce_header);
        // The timestamp header is already attached; the list of signed headers is not.
        extra.retain(|(name, _)| !out.iter().any(|(attached, _)| attached == name));
        out.extend(extra);
        Ok(out)
    }

    /// The scheme of a preset hookguard can sign for: an HMAC over a secret both sides hold.
    fn hmac_spec(&self) -> Result<&SchemeSpec, String> {
        let spec = match &self.spec {
            Spec::Signature(spec) => spec,
            Spec::HeaderToken(_) | Spec::QueryToken(_) | Spec::BasicAuth => {
                return Err(format!(
                    "{} sends the secret itself; there is nothing to sign",
                    self.name
                ))
            }
            Spec::Jwt(_) => {
                return Err(format!(
                    "{} sends a JWT signed with the provider's own key; hookguard verifies it but does not issue one",
                    self.name
                ))
            }
            Spec::AwsSns => {
                return Err(format!(
                    "{} signs with AWS's private key; hookguard only fetches the certificate",
                    self.name
                ))
            }
        };
        if !spec.algorithm.is_hmac() {
            return Err(format!(
                "{} signs with the provider's private key; hookguard holds only the public key",
                self.name
            ));
        }
        Ok(spec)
    }

    /// The signature under its header (or body pointer), then the timestamp and id headers the
    /// scheme reads, when it reads them from headers.
    fn attached_headers(
        &self,
        spec: &SchemeSpec,
        headers: HeaderSetSpec,
        value: String,
        timestamp: Option<String>,
        id: Option<String>,
    ) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        match (&spec.signature_in_body, headers.signatures.first()) {
            (Some(pointer), _) => out.push((pointer.clone(), value)),
            (None, Some(name)) => out.push((name.to_string(), value)),
            (None, None) => return Err(format!("{} names no signature header", self.name)),
        }
        if let (Some(name), Some(TimestampSource::Header), Some(text)) = (
            headers.timestamp,
            spec.timestamp.as_ref().map(|t| &t.source),
            timestamp,
        ) {
            out.push((name, text));
        }
        if let (Some(name), Some(text)) = (headers.id, id) {
            out.push((name, text));
        }
        Ok(out)
    }
}

/// The timestamp text a sender writes, in the scheme's unit; `None` where the scheme has no
/// timestamp or reads it from the body, which the sender writes itself.
fn sender_timestamp(spec: &SchemeSpec, now: SystemTime, since_epoch: Duration) -> Option<String> {
    spec.timestamp.as_ref().and_then(|t| match t.source {
        TimestampSource::Json(_) => None,
        TimestampSource::Header | TimestampSource::SignatureField => Some(match t.unit {
            TimeUnit::Seconds => since_epoch.as_secs().to_string(),
            TimeUnit::Millis => since_epoch.as_millis().to_string(),
            TimeUnit::Rfc3339 => humantime::format_rfc3339_seconds(now).to_string(),
        }),
    })
}

/// Contentful-style headers a sender lists as signed: the list itself and the timestamp header,
/// as (name, value) pairs, the list's value sorted as the sender writes it.
fn signed_header_list(headers: &HeaderSetSpec, timestamp: Option<&str>) -> Vec<(String, String)> {
    let Some(list) = &headers.signed_headers else {
        return Vec::new();
    };
    let mut names = vec![list.to_ascii_lowercase()];
    let mut pairs = Vec::new();
    if let (Some(name), Some(text)) = (&headers.timestamp, timestamp) {
        names.push(name.to_ascii_lowercase());
        pairs.push((name.clone(), text.to_string()));
    }
    names.sort();
    pairs.push((list.clone(), names.join(",")));
    pairs
}

/// The encoded signature of the outgoing request, computed by the same code that verifies it.
/// `extra` are headers the signed content reads from the request (Contentful's signed headers).
fn sign_request(
    verifier: &SignatureVerifier,
    outgoing: &Outgoing<'_>,
    values: &SignedValues<'_>,
    extra: &[(String, String)],
) -> Result<String, String> {
    let mut request_headers = HeaderMap::new();
    if let Some(value) = outgoing
        .content_type
        .and_then(|c| HeaderValue::from_str(c).ok())
    {
        request_headers.insert(http::header::CONTENT_TYPE, value);
    }
    for (name, value) in extra {
        let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
        let value = HeaderValue::from_str(value).map_err(|e| e.to_string())?;
        request_headers.insert(name, value);
    }
    // The URL the provider was given, split as a request to it arrives: path, then query.
    let (public_url, query) = match outgoing.url.map(|url| url.split_once('?')) {
        Some(Some((url, query))) => (Some(url), Some(query)),
        _ => (outgoing.url, None),
    };
    let view = RequestView {
        method: &outgoing.method,
        headers: &request_headers,
        query,
        body: &RawBody::from(outgoing.body),
        public_url,
        now: outgoing.now,
    };
    verifier
        .sign(&view, values)
        .map_err(|why| format!("cannot sign: {why}"))
}

/// The signature header's value: the signature with the format's first prefix, Stripe-style
/// `t=<timestamp>,v1=<signature>` fields (one set), or Recurly's `<timestamp>,<signature>`.
fn signature_value(format: &SignatureFormat, signature: &str, timestamp: Option<&str>) -> String {
    match format {
        SignatureFormat::TimestampFirst { separator } => {
            format!("{}{separator}{signature}", timestamp.unwrap_or(""))
        }
        SignatureFormat::Whole { prefixes } | SignatureFormat::List { prefixes, .. } => {
            format!("{}{signature}", prefixes.first().map_or("", String::as_str))
        }
        SignatureFormat::Fields {
            separator,
            signature_keys,
            timestamp_key,
            ..
        } => format!(
            "{}={}{separator}{}={signature}",
            timestamp_key.as_deref().unwrap_or("t"),
            timestamp.unwrap_or(""),
            signature_keys.first().map_or("v1", String::as_str)
        ),
    }
}
