//! Signed-content templates and JSON-pointer reads: a template parsed from text, then the message
//! built from it over an arbitrary request, and the body read at arbitrary JSON pointers.
//!
//! Input: the template on the first line, a JSON pointer on the second, then an HTTP/1.1 request.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use hookguard::body::RawBody;
use hookguard::fuzzing::capture;
use hookguard::verify::scheme::{HeaderSet, LazyJson, Part, SignedValues, Template};
use hookguard::verify::{Algorithm, Encoding, RequestView, Scheme, SignatureFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(3, |&b| b == b'\n');
    let (Some(template), Some(pointer), Some(rest)) = (lines.next(), lines.next(), lines.next())
    else {
        return;
    };
    let (Ok(template), Ok(pointer)) = (std::str::from_utf8(template), std::str::from_utf8(pointer))
    else {
        return;
    };
    let Ok(request) = capture::parse(rest) else {
        return;
    };
    let body = RawBody::from(request.body.as_slice());
    let json = LazyJson::new(&body);
    let _ = json.text(pointer);
    let Ok(template) = Template::parse(template) else {
        return;
    };
    for part in &template.0 {
        if let Part::Json(pointer) = part {
            let _ = json.text(pointer);
        }
    }
    let scheme = scheme_signing(template);
    let view = RequestView {
        method: &request.method,
        headers: &request.headers,
        query: request.query(),
        body: &body,
        public_url: Some("https://hooks.example.com/webhooks"),
        now: UNIX_EPOCH + Duration::from_secs(1_767_225_602),
    };
    let values = SignedValues {
        timestamp: Some(b"1767225602".to_vec()),
        id: Some(b"msg_1"),
        nonce: Some(b"nonce"),
    };
    if let Ok(message) = scheme.message(&view, &values) {
        // Whatever the template, the body it signs is signed whole.
        if scheme.template.needs(&Part::Body) {
            let total: usize = message.iter().map(|part| part.len()).sum();
            assert!(total >= request.body.len());
        }
    }
});

/// A scheme over `template` whose header set names every header a template can read.
fn scheme_signing(template: Template) -> Scheme {
    Scheme {
        algorithm: Algorithm::HmacSha256,
        encoding: Encoding::Hex,
        header_sets: vec![HeaderSet {
            signatures: vec![http::HeaderName::from_static("x-signature")],
            timestamp: Some(http::HeaderName::from_static("x-timestamp")),
            id: Some(http::HeaderName::from_static("x-id")),
            nonce: Some(http::HeaderName::from_static("x-nonce")),
            signed_headers: Some(http::HeaderName::from_static("x-signed-headers")),
        }],
        signature_in_body: None,
        format: SignatureFormat::Whole { prefixes: vec![] },
        template,
        timestamp: None,
        body_sha256_param: None,
        prehash: None,
    }
}
