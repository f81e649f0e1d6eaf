//! What a sender attaches: [`Preset::sign`] signs an outgoing request as the provider would, for
//! `hookguard sign` and for the tests that check verification against it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, Method};

use super::{HeaderSetSpec, Preset, SchemeSpec, Spec};
use crate::body::RawBody;
use crate::verify::scheme::{SignatureFormat, TimeUnit, TimestampSource};
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
        let signature = sign_request(&verifier, outgoing, timestamp.as_deref(), id.as_deref())?;
        let value = signature_value(&spec.format, &signature, timestamp.as_deref());
        self.attached_headers(spec, headers, value, timestamp, id)
    }

    /// The scheme of a preset hookguard can sign for: an HMAC over a secret both sides hold.
    fn hmac_spec(&self) -> Result<&SchemeSpec, String> {
        let spec = match &self.spec {
            Spec::Signature(spec) => spec,
            Spec::HeaderToken(_) => {
                return Err(format!(
                    "{} sends the secret itself in a header; there is nothing to sign",
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

/// The encoded signature of the outgoing request, computed by the same code that verifies it.
fn sign_request(
    verifier: &SignatureVerifier,
    outgoing: &Outgoing<'_>,
    timestamp: Option<&str>,
    id: Option<&str>,
) -> Result<String, String> {
    let mut request_headers = HeaderMap::new();
    if let Some(value) = outgoing
        .content_type
        .and_then(|c| HeaderValue::from_str(c).ok())
    {
        request_headers.insert(http::header::CONTENT_TYPE, value);
    }
    let view = RequestView {
        method: &outgoing.method,
        headers: &request_headers,
        query: None,
        body: &RawBody::from(outgoing.body),
        public_url: outgoing.url,
        now: outgoing.now,
    };
    verifier
        .sign(&view, timestamp.map(str::as_bytes), id.map(str::as_bytes))
        .map_err(|why| format!("cannot sign: {why}"))
}

/// The signature header's value: the signature with the format's first prefix, or Stripe-style
/// `t=<timestamp>,v1=<signature>` fields.
fn signature_value(format: &SignatureFormat, signature: &str, timestamp: Option<&str>) -> String {
    match format {
        SignatureFormat::Whole { prefixes } | SignatureFormat::List { prefixes, .. } => {
            format!("{}{signature}", prefixes.first().map_or("", String::as_str))
        }
        SignatureFormat::Fields {
            separator,
            signature_keys,
            timestamp_key,
        } => format!(
            "{}={}{separator}{}={signature}",
            timestamp_key.as_deref().unwrap_or("t"),
            timestamp.unwrap_or(""),
            signature_keys.first().map_or("v1", String::as_str)
        ),
    }
}
