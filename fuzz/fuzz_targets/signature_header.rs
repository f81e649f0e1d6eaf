//! Every signature-header format, through the verifier a route uses: a preset (or a format spelled
//! out on the first line) checks an arbitrary captured request, and an HMAC preset's own signature
//! over the same body, URL and method must verify.
//!
//! Input: the first line names a preset (`stripe`), or a format (`list , v1=`, `fields , ; t v1`,
//! `whole sha256=`, `tsfirst ,`); the rest is an HTTP/1.1 request as `hookguard explain` reads it.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookguard::body::RawBody;
use hookguard::fuzzing::capture::{self, Captured};
use hookguard::verify::presets::{self, Outgoing, Spec};
use hookguard::verify::scheme::{HeaderSet, Template, TimestampRule, TimestampSource};
use hookguard::verify::{
    Algorithm, Encoding, KeyFormat, Rejection, RequestView, Scheme, Secret, SignatureFormat,
    SignatureVerifier, TimeUnit,
};
use libfuzzer_sys::fuzz_target;

/// The clock most known-answer vectors were signed at, so a seed's timestamp is fresh.
const NOW_SECS: u64 = 1_767_225_602;

fuzz_target!(|data: &[u8]| {
    let Some(newline) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let (Ok(selector), Ok(request)) = (
        std::str::from_utf8(&data[..newline]),
        capture::parse(&data[newline + 1..]),
    ) else {
        return;
    };
    let now = UNIX_EPOCH + Duration::from_secs(NOW_SECS);
    match presets::find(selector.trim()) {
        Some(preset) => check_preset(preset, &request, now),
        None => {
            if let Some(scheme) = scheme_from_line(selector) {
                check_scheme(scheme, KeyFormat::Raw, &request, now);
            }
        }
    }
});

fn check_preset(preset: &presets::Preset, request: &Captured, now: SystemTime) {
    let Spec::Signature(spec) = &preset.spec else {
        return;
    };
    let scheme = spec.scheme().expect("a preset's scheme is valid");
    check_scheme(scheme, spec.key_format, request, now);
    sign_then_verify(preset, request, now);
}

/// Prepares and, for an HMAC scheme, verifies the request as it is: any refusal is fine, a panic
/// is not, and nobody but the holder of the secret can make it verify.
fn check_scheme(scheme: Scheme, key_format: KeyFormat, request: &Captured, now: SystemTime) {
    let body = RawBody::from(request.body.as_slice());
    let view = view_of(request, &body, now);
    let _ = scheme.precheck(&request.headers);
    let _ = scheme.prepare(&view);
    if let Some(verifier) = hmac_verifier(scheme, key_format) {
        let _ = verifier.verify(&view);
    }
}

/// The preset's own signature over the request's method, body and URL, attached as a sender
/// would: verification must not call it a mismatch.
fn sign_then_verify(preset: &presets::Preset, request: &Captured, now: SystemTime) {
    let Spec::Signature(spec) = &preset.spec else {
        return;
    };
    if spec.signature_in_body.is_some() {
        return; // The sender writes the signature into its own JSON; there is no header to attach.
    }
    if let (Some(param), Some(query)) = (&spec.body_sha256_param, request.query()) {
        if query.contains(param.as_str()) {
            return; // A body hash in the URL is the sender's claim; a wrong one is a true mismatch.
        }
    }
    let public_url = format!("https://hooks.example.com{}", request.path());
    let url = format!("https://hooks.example.com{}", request.target);
    let content_type = request
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let outgoing = Outgoing {
        method: request.method.clone(),
        body: &request.body,
        url: Some(&url),
        content_type,
        now,
    };
    let secret = Secret::new(b"fuzz-secret".to_vec());
    let Ok(attached) = preset.sign(&secret, &outgoing) else {
        return;
    };
    let mut headers = request.headers.clone();
    for (name, value) in &attached {
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) else {
            return;
        };
        headers.insert(name, value);
    }
    let scheme = spec.scheme().expect("a preset's scheme is valid");
    let verifier = SignatureVerifier::new(scheme, spec.key_format, &[(secret, None)])
        .expect("the secret signed with is a key");
    let body = RawBody::from(request.body.as_slice());
    let view = RequestView {
        headers: &headers,
        public_url: Some(&public_url),
        ..view_of(request, &body, now)
    };
    let verdict = verifier.verify(&view);
    assert_ne!(
        verdict,
        Err(Rejection::SignatureMismatch),
        "{}: its own signature does not verify: {attached:?}",
        preset.name
    );
}

fn view_of<'a>(request: &'a Captured, body: &'a RawBody, now: SystemTime) -> RequestView<'a> {
    RequestView {
        method: &request.method,
        headers: &request.headers,
        query: request.query(),
        body,
        public_url: Some("https://hooks.example.com/webhooks"),
        now,
    }
}

fn hmac_verifier(scheme: Scheme, key_format: KeyFormat) -> Option<SignatureVerifier> {
    if !scheme.algorithm.is_hmac() {
        return None;
    }
    let secret = match key_format {
        KeyFormat::Whsec => "whsec_ZnV6ei1zZWNyZXQ=",
        KeyFormat::Base64Der => "ZnV6ei1zZWNyZXQ=",
        _ => "fuzz-secret",
    };
    SignatureVerifier::new(scheme, key_format, &[(Secret::new(secret), None)]).ok()
}

/// A format spelled out: `whole P...`, `list S P...`, `fields S SET TS K...` (`-`: none) or
/// `tsfirst S`, in `x-signature`, over `{timestamp}.{body}` with a 300 s window.
fn scheme_from_line(line: &str) -> Option<Scheme> {
    let mut words = line.split(' ');
    let kind = words.next()?;
    let char_word = |words: &mut std::str::Split<'_, char>| words.next()?.chars().next();
    let format = match kind {
        "whole" => SignatureFormat::Whole {
            prefixes: words.map(str::to_string).collect(),
        },
        "list" => SignatureFormat::List {
            separator: char_word(&mut words)?,
            prefixes: words.map(str::to_string).collect(),
        },
        "fields" => {
            let separator = char_word(&mut words)?;
            let set_separator = words
                .next()
                .and_then(|w| (w != "-").then(|| w.chars().next())?);
            let timestamp_key = words.next().filter(|w| *w != "-").map(str::to_string);
            SignatureFormat::Fields {
                separator,
                signature_keys: words.map(str::to_string).collect(),
                timestamp_key,
                set_separator,
            }
        }
        "tsfirst" => SignatureFormat::TimestampFirst {
            separator: char_word(&mut words)?,
        },
        _ => return None,
    };
    let source = if format.carries_timestamp() {
        TimestampSource::SignatureField
    } else {
        TimestampSource::Header
    };
    Some(Scheme {
        algorithm: Algorithm::HmacSha256,
        encoding: Encoding::Hex,
        header_sets: vec![HeaderSet {
            signatures: vec![http::HeaderName::from_static("x-signature")],
            timestamp: Some(http::HeaderName::from_static("x-timestamp")),
            id: None,
            nonce: None,
            signed_headers: None,
        }],
        signature_in_body: None,
        format,
        template: Template::parse("{timestamp}.{body}").ok()?,
        timestamp: Some(TimestampRule {
            source,
            unit: TimeUnit::Seconds,
            tolerance: Some(Duration::from_secs(300)),
            reject_future: true,
        }),
        body_sha256_param: None,
        prehash: None,
    })
}
