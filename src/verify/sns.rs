//! Amazon SNS messages: the fields SNS signs, its canonical string, the rule a `SigningCertURL`
//! (and a `SubscribeURL`) must follow, and the RSA check against a certificate handed in. Pure: the
//! certificate is fetched elsewhere (`crate::outbound`) and kept here in a small cache by URL.
//!
//! Checked against AWS's "Verifying the signatures of Amazon SNS messages" (the fields per message
//! type, SignatureVersion 1 = SHA1withRSA and 2 = SHA256withRSA) and the AWS SDK verifiers
//! (aws-js-sns-message-validator index.js, aws-sdk-ruby Aws::SNS::MessageVerifier: `Key\nValue\n`
//! per signed field, the `sns.<region>.amazonaws.com(.cn)` host rule, `.pem` path).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use http::Uri;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use serde::Deserialize;
use sha1::{Digest, Sha1};
use sha2::Sha256;
use x509_cert::der::{DecodePem, Encode};

use super::scheme::BASE64;
use super::{Rejection, RequestView};

/// Where SNS serves its signing certificates: any region, in the commercial and the China partitions.
pub const DEFAULT_CERT_URL_PATTERNS: [&str; 2] = [
    "https://sns.*.amazonaws.com/*.pem",
    "https://sns.*.amazonaws.com.cn/*.pem",
];

/// Certificates kept per route. SNS signs with one certificate per region at a time, so a route
/// needs few; the bound stops messages naming many URLs from growing memory.
pub const CERTIFICATE_CACHE_ENTRIES: usize = 64;

/// The message types SNS posts to an HTTP/S endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureVersion {
    /// SHA1withRSA, SNS's default.
    V1,
    /// SHA256withRSA.
    V2,
}

/// The message as SNS writes it. A field given twice makes the body unreadable, so two parsers
/// cannot disagree about which copy was signed.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Written {
    #[serde(rename = "Type")]
    kind: Option<String>,
    message: Option<String>,
    message_id: Option<String>,
    subject: Option<String>,
    timestamp: Option<String>,
    topic_arn: Option<String>,
    #[serde(rename = "SubscribeURL")]
    subscribe_url: Option<String>,
    token: Option<String>,
    signature: Option<String>,
    signature_version: Option<String>,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: Option<String>,
}

/// A parsed SNS message: what the signature covers, the signature and where its certificate is.
#[derive(Debug, Clone)]
pub struct SnsMessage {
    pub kind: MessageType,
    pub version: SignatureVersion,
    pub signing_cert_url: String,
    pub topic_arn: String,
    pub message_id: String,
    pub subscribe_url: Option<String>,
    signature: Vec<u8>,
    /// The signed fields in SNS's order, each present one as (name, value).
    signed: Vec<(&'static str, String)>,
}

impl SnsMessage {
    /// Reads a message; anything missing or unknown is refused before any certificate is looked at.
    pub fn parse(body: &[u8]) -> Result<SnsMessage, Rejection> {
        let written: Written =
            serde_json::from_slice(body).map_err(|_| Rejection::MalformedMessage)?;
        let signature = written.signature.ok_or(Rejection::MissingSignature)?;
        let version = match written.signature_version.as_deref() {
            Some("1") => SignatureVersion::V1,
            Some("2") => SignatureVersion::V2,
            _ => return Err(Rejection::UnknownSignatureVersion),
        };
        let signature = BASE64
            .decode(signature.as_bytes())
            .map_err(|_| Rejection::MalformedSignature)?;
        let kind = match written.kind.as_deref() {
            Some("Notification") => MessageType::Notification,
            Some("SubscriptionConfirmation") => MessageType::SubscriptionConfirmation,
            Some("UnsubscribeConfirmation") => MessageType::UnsubscribeConfirmation,
            _ => return Err(Rejection::MalformedMessage),
        };
        let required = |value: Option<String>| value.ok_or(Rejection::MalformedMessage);
        let message = required(written.message)?;
        let message_id = required(written.message_id)?;
        let timestamp = required(written.timestamp)?;
        let topic_arn = required(written.topic_arn)?;
        let signing_cert_url = required(written.signing_cert_url)?;
        let kind_text = written.kind.unwrap_or_default();
        let mut signed = vec![("Message", message), ("MessageId", message_id.clone())];
        let subscribe_url = match kind {
            MessageType::Notification => {
                if let Some(subject) = written.subject {
                    signed.push(("Subject", subject));
                }
                signed.push(("Timestamp", timestamp));
                None
            }
            MessageType::SubscriptionConfirmation | MessageType::UnsubscribeConfirmation => {
                let url = required(written.subscribe_url)?;
                signed.push(("SubscribeURL", url.clone()));
                signed.push(("Timestamp", timestamp));
                signed.push(("Token", required(written.token)?));
                Some(url)
            }
        };
        signed.push(("TopicArn", topic_arn.clone()));
        signed.push(("Type", kind_text));
        Ok(SnsMessage {
            kind,
            version,
            signing_cert_url,
            topic_arn,
            message_id,
            subscribe_url,
            signature,
            signed,
        })
    }

    /// The bytes SNS signs: `Key\nValue\n` for each signed field, in SNS's order.
    pub fn canonical_string(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in &self.signed {
            for part in [name.as_bytes(), b"\n", value.as_bytes(), b"\n"] {
                out.extend_from_slice(part);
            }
        }
        out
    }

    /// PKCS#1 v1.5 over the canonical string with the certificate's key.
    pub fn verify(&self, certificate: &SigningCertificate) -> Result<(), Rejection> {
        let canonical = self.canonical_string();
        let checked = match self.version {
            SignatureVersion::V1 => certificate.key.verify(
                Pkcs1v15Sign::new::<Sha1>(),
                &Sha1::digest(&canonical),
                &self.signature,
            ),
            SignatureVersion::V2 => certificate.key.verify(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(&canonical),
                &self.signature,
            ),
        };
        checked.map_err(|_| Rejection::SignatureMismatch)
    }
}

/// The RSA key of a signing certificate.
#[derive(Debug, Clone)]
pub struct SigningCertificate {
    key: RsaPublicKey,
}

impl SigningCertificate {
    /// The key of a PEM X.509 certificate, as SNS serves it.
    pub fn from_pem(pem: &[u8]) -> Result<SigningCertificate, String> {
        let certificate = x509_cert::Certificate::from_pem(pem)
            .map_err(|e| format!("not a PEM certificate: {e}"))?;
        let spki = certificate
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| format!("unreadable public key: {e}"))?;
        let key = RsaPublicKey::from_public_key_der(&spki)
            .map_err(|e| format!("not an RSA public key: {e}"))?;
        Ok(SigningCertificate { key })
    }
}

/// One DNS label of a host pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Label {
    /// `*`: exactly one label of letters, digits and `-`.
    Any,
    Exact(String),
}

/// A `cert_url_pattern`: `https://` and a host whose labels may be `*`, an optional port, and a
/// path where `*` stands for one or more characters within a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertUrlPattern {
    text: String,
    host: Vec<Label>,
    port: Option<u16>,
    path: String,
}

/// The parts of an https URL the rules look at; `None` for anything else (another scheme, user
/// info, a fragment, an unusual host).
struct HttpsUrl {
    host: String,
    port: Option<u16>,
    path: String,
    query: Option<String>,
}

fn https_url(text: &str) -> Option<HttpsUrl> {
    if text.contains('#') || text.contains('\\') {
        return None;
    }
    let uri: Uri = text.parse().ok()?;
    let authority = uri.authority()?;
    if uri.scheme_str() != Some("https") || authority.as_str().contains('@') {
        return None;
    }
    let host = authority.host().to_ascii_lowercase();
    let labels_ok = host
        .split('.')
        .all(|label| !label.is_empty() && label.bytes().all(label_byte));
    labels_ok.then(|| HttpsUrl {
        host,
        port: authority.port_u16(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
    })
}

fn label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

impl CertUrlPattern {
    pub fn parse(text: &str) -> Result<CertUrlPattern, String> {
        let refuse = |why: &str| Err(format!("{text:?}: {why}"));
        let Some(url) = https_url(&text.replace('*', "x")) else {
            return refuse("give an https URL such as https://sns.*.amazonaws.com/*.pem");
        };
        if url.query.is_some() {
            return refuse("a certificate URL pattern has no query");
        }
        if !url.path.starts_with('/') || text.contains("**") {
            return refuse("give a path such as /*.pem, with single `*`s");
        }
        // The host as written, so a `*` label is told from a literal one.
        let written_host = text["https://".len()..]
            .split(['/', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let host = written_host
            .split('.')
            .map(|label| match label {
                "*" => Ok(Label::Any),
                label if label.contains('*') => Err(()),
                label => Ok(Label::Exact(label.to_string())),
            })
            .collect::<Result<Vec<_>, _>>();
        let Ok(host) = host else {
            return refuse("a `*` in the host stands for a whole label");
        };
        let path_start = text["https://".len()..]
            .find('/')
            .map(|at| at + "https://".len());
        let path = path_start.map_or("/", |at| &text[at..]).to_string();
        Ok(CertUrlPattern {
            text: text.to_string(),
            host,
            port: url.port,
            path,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether a `SigningCertURL` is on this pattern: https, the host, the port and the path.
    pub fn matches(&self, url: &str) -> bool {
        https_url(url).is_some_and(|url| {
            url.query.is_none()
                && self.on_host(&url)
                && glob(self.path.as_bytes(), url.path.as_bytes())
        })
    }

    /// Whether a `SubscribeURL` may be visited: https on the pattern's host and port, any path.
    pub fn matches_host(&self, url: &str) -> bool {
        https_url(url).is_some_and(|url| self.on_host(&url))
    }

    fn on_host(&self, url: &HttpsUrl) -> bool {
        let labels: Vec<&str> = url.host.split('.').collect();
        url.port == self.port
            && labels.len() == self.host.len()
            && self.host.iter().zip(&labels).all(|(want, got)| match want {
                Label::Any => true,
                Label::Exact(text) => text == got,
            })
    }
}

/// `*` matches one or more bytes other than `/`; everything else matches itself.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (1..=text.len())
            .take_while(|&n| text[n - 1] != b'/')
            .any(|n| glob(rest, &text[n..])),
        Some((byte, rest)) => text.first() == Some(byte) && glob(rest, &text[1..]),
    }
}

/// Certificates by URL, the oldest dropped first beyond [`CERTIFICATE_CACHE_ENTRIES`]. Shared by
/// every request on a route; two requests missing the same URL at once may both fetch it, and the
/// second insert replaces the first, so the cache never holds a URL twice.
#[derive(Debug, Default)]
pub struct CertificateCache {
    entries: Mutex<VecDeque<(String, Arc<SigningCertificate>)>>,
}

impl CertificateCache {
    pub fn get(&self, url: &str) -> Option<Arc<SigningCertificate>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .find(|(known, _)| known == url)
            .map(|(_, certificate)| Arc::clone(certificate))
    }

    pub fn insert(&self, url: &str, certificate: Arc<SigningCertificate>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|(known, _)| known != url);
        while entries.len() >= CERTIFICATE_CACHE_ENTRIES {
            entries.pop_front();
        }
        entries.push_back((url.to_string(), certificate));
    }

    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A route's SNS verification: where certificates may come from, which topics are accepted,
/// whether hookguard confirms subscriptions itself, and the certificates already fetched.
#[derive(Debug)]
pub struct SnsVerifier {
    pub cert_urls: Vec<CertUrlPattern>,
    pub topic_arns: Option<Vec<String>>,
    pub confirm_subscription: bool,
    pub certificates: CertificateCache,
}

impl SnsVerifier {
    pub fn new(
        cert_urls: Vec<CertUrlPattern>,
        topic_arns: Option<Vec<String>>,
        confirm_subscription: bool,
    ) -> SnsVerifier {
        SnsVerifier {
            cert_urls,
            topic_arns,
            confirm_subscription,
            certificates: CertificateCache::default(),
        }
    }

    /// The default certificate hosts, every topic, no confirmation.
    pub fn with_defaults() -> SnsVerifier {
        let patterns = DEFAULT_CERT_URL_PATTERNS
            .iter()
            .filter_map(|text| CertUrlPattern::parse(text).ok())
            .collect();
        SnsVerifier::new(patterns, None, false)
    }

    /// Everything that needs no certificate, in the order a request is refused for: the message
    /// reads, its certificate URL is on a pattern, its topic is allowed. Run before any fetch.
    pub fn check(&self, body: &[u8]) -> Result<SnsMessage, Rejection> {
        let message = SnsMessage::parse(body)?;
        if !self
            .cert_urls
            .iter()
            .any(|pattern| pattern.matches(&message.signing_cert_url))
        {
            return Err(Rejection::CertUrlNotAllowed);
        }
        if let Some(allowed) = &self.topic_arns {
            if !allowed.contains(&message.topic_arn) {
                return Err(Rejection::TopicNotAllowed);
            }
        }
        Ok(message)
    }

    /// The `SubscribeURL` to visit for a verified confirmation, when the route confirms them:
    /// https on a certificate pattern's host, or refused.
    pub fn confirmation_url(&self, message: &SnsMessage) -> Result<Option<Uri>, Rejection> {
        let (true, MessageType::SubscriptionConfirmation, Some(url)) = (
            self.confirm_subscription,
            message.kind,
            message.subscribe_url.as_deref(),
        ) else {
            return Ok(None);
        };
        if !self.cert_urls.iter().any(|p| p.matches_host(url)) {
            return Err(Rejection::SubscribeUrlNotAllowed);
        }
        url.parse()
            .map(Some)
            .map_err(|_| Rejection::SubscribeUrlNotAllowed)
    }

    /// The whole check with the certificates already cached; a certificate not yet fetched is a
    /// refusal here. The proxy fetches it first (see `proxy::phases`); `explain` and the tests
    /// call this.
    pub fn verify(&self, request: &RequestView<'_>) -> Result<(), Rejection> {
        let message = self.check(request.body.contiguous())?;
        let certificate = self
            .certificates
            .get(&message.signing_cert_url)
            .ok_or(Rejection::CertificateNotCached)?;
        message.verify(&certificate)
    }
}

#[cfg(test)]
mod tests;
