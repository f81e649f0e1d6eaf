//! Micro-benchmarks of the verification path: every scheme shape at 1 KiB and 1 MiB, beside the raw
//! SHA-256 and HMAC-SHA256 of the same bytes, so the cost beyond the hash itself shows.
//!
//! `cargo bench --bench verify` (compare with `openssl speed -evp sha256`).

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use sha2::{Digest, Sha256};

use hookguard::verify::presets::{self, Outgoing, Spec};
use hookguard::verify::{
    RequestView, Secret, SignatureVerifier, TokenSource, TokenVerifier, Verifier,
};

const SIZES: [(usize, &str); 2] = [(1024, "1KiB"), (1024 * 1024, "1MiB")];

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

fn body(size: usize) -> Vec<u8> {
    let mut body = br#"{"event":"file.uploaded","pad":""#.to_vec();
    body.resize(size - 2, b'x');
    body.extend_from_slice(br#""}"#);
    body
}

/// A preset's verifier and a request it accepts, signed by the preset's own signer.
fn signed(name: &str, secret: &str, body: &[u8]) -> (Verifier, HeaderMap) {
    let preset = presets::find(name).expect("preset");
    let Spec::Signature(spec) = &preset.spec else {
        panic!("{name} signs nothing")
    };
    let outgoing = Outgoing {
        method: Method::POST,
        body,
        url: Some("https://hooks.example.com/x"),
        content_type: None,
        now: now(),
    };
    let mut headers = HeaderMap::new();
    for (header, value) in preset.sign(&Secret::new(secret), &outgoing).expect("sign") {
        headers.append(
            HeaderName::from_bytes(header.as_bytes()).expect("name"),
            HeaderValue::from_str(&value).expect("value"),
        );
    }
    let verifier = SignatureVerifier::new(
        spec.scheme().expect("scheme"),
        spec.key_format,
        &[(Secret::new(secret), None)],
    )
    .expect("key");
    (Verifier::Signature(verifier), headers)
}

fn asymmetric(name: &str, body: &[u8]) -> (Verifier, HeaderMap) {
    let preset = presets::find(name).expect("preset");
    let Spec::Signature(spec) = &preset.spec else {
        panic!("{name} signs nothing")
    };
    let timestamp = "1767225600";
    let mut message = timestamp.as_bytes().to_vec();
    message.extend_from_slice(body);
    let (key, signature, signature_header, timestamp_header) = if name == "discord" {
        use ed25519_dalek::Signer;
        let signer = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let signature = hex::encode(signer.sign(&message).to_bytes());
        (
            hex::encode(signer.verifying_key().to_bytes()),
            signature,
            "x-signature-ed25519",
            "x-signature-timestamp",
        )
    } else {
        use base64::Engine as _;
        use p256::ecdsa::signature::Signer;
        use p256::pkcs8::EncodePublicKey;
        let signer = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).expect("scalar");
        let signature: p256::ecdsa::Signature = signer.sign(&message);
        let der = signer.verifying_key().to_public_key_der().expect("der");
        let engine = base64::engine::general_purpose::STANDARD;
        (
            engine.encode(der.as_bytes()),
            engine.encode(signature.to_der().as_bytes()),
            "x-twilio-email-event-webhook-signature",
            "x-twilio-email-event-webhook-timestamp",
        )
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        signature_header,
        HeaderValue::from_str(&signature).expect("value"),
    );
    headers.insert(timestamp_header, HeaderValue::from_static(timestamp));
    let verifier = SignatureVerifier::new(
        spec.scheme().expect("scheme"),
        spec.key_format,
        &[(Secret::new(key), None)],
    )
    .expect("key");
    (Verifier::Signature(verifier), headers)
}

fn verification(c: &mut Criterion) {
    for (size, label) in SIZES {
        let body = body(size);
        let raw_body = hookguard::body::RawBody::from(&body[..]);
        let mut group = c.benchmark_group(format!("verify/{label}"));
        group.throughput(Throughput::Bytes(size as u64));
        if size > 64 * 1024 {
            group.sample_size(20);
        }
        group.bench_function("raw sha256", |b| {
            b.iter(|| Sha256::digest(black_box(&body)))
        });
        group.bench_function("raw hmac-sha256", |b| {
            let key = Hmac::<Sha256>::new_from_slice(b"bench-secret").expect("key");
            b.iter(|| {
                let mut mac = key.clone();
                mac.update(black_box(&body));
                mac.finalize()
            })
        });
        let mut cases: Vec<(String, Verifier, HeaderMap)> = Vec::new();
        for (name, secret) in [
            ("drivewidget", "bench-secret"),
            ("github", "bench-secret"),
            ("shopify", "bench-secret"),
            ("intercom", "bench-secret"),
            ("terraform", "bench-secret"),
            ("stripe", "whsec_bench"),
            ("slack", "bench-secret"),
            (
                "standard-webhooks",
                "whsec_YmVuY2gtc2VjcmV0LWJlbmNoLXNlY3JldA==",
            ),
            ("hubspot", "bench-secret"),
        ] {
            let (verifier, headers) = signed(name, secret, &body);
            cases.push((name.to_string(), verifier, headers));
        }
        for name in ["discord", "sendgrid"] {
            let (verifier, headers) = asymmetric(name, &body);
            cases.push((name.to_string(), verifier, headers));
        }
        let token = Verifier::Token(TokenVerifier::new(
            TokenSource::Header(HeaderName::from_static("x-gitlab-token")),
            &[(Secret::new("bench-token"), None)],
        ));
        let mut token_headers = HeaderMap::new();
        token_headers.insert("x-gitlab-token", HeaderValue::from_static("bench-token"));
        cases.push(("gitlab (header token)".to_string(), token, token_headers));
        for (name, verifier, headers) in &cases {
            let view = RequestView {
                method: &Method::POST,
                headers,
                query: None,
                body: &raw_body,
                public_url: Some("https://hooks.example.com/x"),
                now: now(),
            };
            assert_eq!(
                verifier.verify(&view),
                Ok(()),
                "{name} must accept its own request"
            );
            group.bench_with_input(BenchmarkId::new("preset", name), &view, |b, view| {
                b.iter(|| verifier.verify(black_box(view)))
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_secs(1));
    targets = verification
}
criterion_main!(benches);
