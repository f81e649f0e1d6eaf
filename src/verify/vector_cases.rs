//! The known-answer vectors of tests/data/preset-vectors.json as test cases, and the variants every
//! scheme test derives from them (tampered body, wrong key, stale and future timestamps).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::Value;

use super::jwt::JwtVerifier;
use super::presets::{find, Preset, Spec};
use super::sns::{SigningCertificate, SnsMessage, SnsVerifier};
use super::{Rejection, RequestView, Secret, SignatureVerifier, TokenVerifier, Verifier};

const VECTORS: &str = include_str!("../../tests/data/preset-vectors.json");

pub(crate) fn vectors() -> Vec<Value> {
    let document: Value = serde_json::from_str(VECTORS).expect("vectors parse");
    document["vectors"].as_array().expect("vectors").clone()
}

pub(crate) fn verifier(preset: &Preset, secret: &str) -> Verifier {
    let secrets = [(Secret::new(secret), None)];
    match &preset.spec {
        Spec::Signature(spec) => Verifier::Signature(
            SignatureVerifier::new(spec.scheme().expect("scheme"), spec.key_format, &secrets)
                .expect("keys"),
        ),
        Spec::HeaderToken(_) | Spec::QueryToken(_) | Spec::BasicAuth => {
            Verifier::Token(TokenVerifier::new(
                preset.spec.token_source().expect("source").expect("token"),
                &secrets,
            ))
        }
        Spec::Jwt(spec) => Verifier::Jwt(
            JwtVerifier::new(spec, spec.check().expect("jwt spec"), &secrets).expect("keys"),
        ),
        Spec::AwsSns => panic!("aws-sns needs the message's certificate URL: sns_verifier"),
    }
}

/// An SNS verifier that already holds `certificate_pem` as the certificate fetched for the
/// `SigningCertURL` of `body`: the aws-sns vectors carry the certificate as their secret.
pub(crate) fn sns_verifier(certificate_pem: &str, body: &[u8]) -> Verifier {
    let verifier = SnsVerifier::with_defaults();
    let url = SnsMessage::parse(body)
        .expect("an SNS vector")
        .signing_cert_url;
    let certificate =
        SigningCertificate::from_pem(certificate_pem.as_bytes()).expect("a certificate PEM");
    verifier
        .certificates
        .insert(&url, std::sync::Arc::new(certificate));
    Verifier::Sns(verifier)
}

/// The names this preset reads its signature from, lower-cased.
pub(crate) fn signature_headers(preset: &Preset) -> Vec<String> {
    match &preset.spec {
        Spec::Signature(spec) => spec
            .header_sets
            .iter()
            .flat_map(|set| set.signatures.iter().map(|n| n.to_ascii_lowercase()))
            .collect(),
        Spec::HeaderToken(name) => vec![name.to_ascii_lowercase()],
        Spec::Jwt(spec) => vec![spec.header.to_ascii_lowercase()],
        Spec::BasicAuth => vec!["authorization".to_string()],
        Spec::QueryToken(_) => Vec::new(),
        // SNS signs inside the body.
        Spec::AwsSns => Vec::new(),
    }
}

pub(crate) struct Case {
    pub preset: &'static Preset,
    pub secret: String,
    pub wrong_secret: String,
    pub now: SystemTime,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub tampered: Vec<u8>,
    pub url: Option<String>,
    pub query: Option<String>,
}

impl Case {
    pub fn from(vector: &Value) -> Case {
        let name = vector["preset"].as_str().expect("preset");
        let request = &vector["request"];
        let mut headers = HeaderMap::new();
        for pair in request["headers"].as_array().expect("headers") {
            let name = HeaderName::from_bytes(pair[0].as_str().expect("name").as_bytes())
                .expect("header name");
            headers.append(
                name,
                HeaderValue::from_str(pair[1].as_str().expect("value")).expect("header value"),
            );
        }
        let query = request["query"]
            .as_str()
            .filter(|q| !q.is_empty())
            .map(str::to_string);
        Case {
            preset: find(name).unwrap_or_else(|| panic!("fixture for unknown preset {name}")),
            secret: vector["secret"].as_str().expect("secret").to_string(),
            wrong_secret: vector["wrong_secret"]
                .as_str()
                .expect("wrong secret")
                .to_string(),
            now: UNIX_EPOCH + Duration::from_secs(vector["now"].as_u64().expect("now")),
            headers,
            body: request["body"].as_str().expect("body").as_bytes().to_vec(),
            tampered: vector["tampered_body"]
                .as_str()
                .expect("tampered")
                .as_bytes()
                .to_vec(),
            url: request["url"].as_str().map(str::to_string),
            query,
        }
    }

    pub fn check(
        &self,
        secret: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), Rejection> {
        let verifier = match self.preset.spec {
            Spec::AwsSns => sns_verifier(secret, &self.body),
            _ => verifier(self.preset, secret),
        };
        self.check_with(&verifier, headers, body, now)
    }

    /// The verdict of any verifier, such as one loaded from a config, on this request.
    pub fn check_with(
        &self,
        verifier: &Verifier,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), Rejection> {
        let view = RequestView {
            method: &Method::POST,
            headers,
            query: self.query.as_deref(),
            body: &crate::body::RawBody::from(body),
            public_url: self.url.as_deref(),
            now,
        };
        verifier.verify(&view)
    }

    /// How far past the preset's window a stale delivery is, and whether the preset also refuses
    /// the future; `None` where it enforces no window.
    pub fn stale_margin(&self) -> Option<(Duration, bool)> {
        let Spec::Signature(spec) = &self.preset.spec else {
            return None;
        };
        let timestamp = spec.timestamp.as_ref()?;
        let tolerance = timestamp.tolerance?;
        Some((Duration::from_secs(tolerance + 60), timestamp.reject_future))
    }

    pub fn first_signature_header(&self) -> Option<HeaderName> {
        let names = signature_headers(self.preset);
        self.headers
            .keys()
            .find(|k| names.contains(&k.as_str().to_string()))
            .cloned()
    }
}
