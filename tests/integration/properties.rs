//! Property tests standing in for cargo-fuzz (which needs a nightly toolchain this project cannot
//! fetch): parsers never panic on arbitrary input, and no mutation of a signed request verifies.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use proptest::prelude::*;

use bytes::Bytes;
use hookguard::body::RawBody;
use hookguard::config::Config;
use hookguard::verify::presets::{self, Outgoing, Spec};
use hookguard::verify::{KeyFormat, RequestView, Secret, SignatureVerifier, Verifier};

const VALID_CONFIG: &str = "upstream: http://127.0.0.1:3000\nroutes:\n  - path: /a\n    provider: github\n    secrets: [{value: s}]\n    dedup: {ttl: 1h}\n    rate_limit: {per_second: 1}\n";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

fn secret_for(key_format: KeyFormat) -> String {
    match key_format {
        KeyFormat::Whsec => "whsec_cHJvcGVydHktdGVzdC1rZXk=".to_string(),
        // The same key, written as the base64 that Airtable and Microsoft Teams hand out.
        KeyFormat::Base64Der => "cHJvcGVydHktdGVzdC1rZXk=".to_string(),
        _ => "property-test-key".to_string(),
    }
}

fn verifier(name: &str) -> (Verifier, String) {
    let preset = presets::find(name).expect("preset");
    let Spec::Signature(spec) = &preset.spec else {
        panic!("{name} is a token preset")
    };
    let secret = secret_for(spec.key_format);
    let verifier = SignatureVerifier::new(
        spec.scheme().expect("scheme"),
        spec.key_format,
        &[(Secret::new(secret.clone()), None)],
    )
    .expect("key");
    (Verifier::Signature(verifier), secret)
}

/// HMAC presets whose signature covers the body; Mailgun signs only a token and timestamp.
fn body_signing_presets() -> Vec<&'static str> {
    presets::all()
        .iter()
        .filter(|p| matches!(&p.spec, Spec::Signature(s) if s.algorithm.is_hmac() && s.signature_in_body.is_none()))
        .map(|p| p.name)
        .collect()
}

fn view<'a>(headers: &'a HeaderMap, body: &'a RawBody) -> RequestView<'a> {
    RequestView {
        method: &Method::POST,
        headers,
        query: None,
        body,
        public_url: Some("https://hooks.example.com/x"),
        now: now(),
    }
}

/// A byte different from `original` that no decoder would read as the same signature character.
fn different(original: u8, pick: u8) -> u8 {
    let candidates: Vec<u8> = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/"
        .iter()
        .copied()
        .filter(|c| !c.eq_ignore_ascii_case(&original))
        .collect();
    candidates[usize::from(pick) % candidates.len()]
}

proptest! {
    // 64 cases in `cargo test`; PROPTEST_CASES=20000 for a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    #[test]
    fn config_parsing_never_panics_on_arbitrary_text(text in ".{0,300}") {
        let _ = Config::from_yaml(&text, |_| None);
    }

    #[test]
    fn config_parsing_never_panics_on_a_mutated_valid_config(position in any::<usize>(), byte in any::<u8>(), cut in any::<bool>()) {
        let mut bytes = VALID_CONFIG.as_bytes().to_vec();
        let at = position % bytes.len();
        if cut { bytes.truncate(at) } else { bytes[at] = byte }
        let text = String::from_utf8_lossy(&bytes);
        let _ = Config::from_yaml(&text, |_| None);
    }

    #[test]
    fn every_signature_parser_refuses_arbitrary_headers(values in proptest::collection::vec("[ -~]{0,120}", 1..4),
                                                         body in proptest::collection::vec(any::<u8>(), 0..64)) {
        for preset in presets::all() {
            let Spec::Signature(spec) = &preset.spec else { continue };
            if !spec.algorithm.is_hmac() {
                continue;
            }
            let (verifier, _) = verifier(preset.name);
            let mut headers = HeaderMap::new();
            for set in &spec.header_sets {
                for (name, value) in set.signatures.iter().chain(set.timestamp.iter()).chain(set.id.iter()).zip(values.iter().cycle()) {
                    if let Ok(value) = HeaderValue::from_str(value) {
                        headers.append(HeaderName::from_bytes(name.as_bytes()).expect("name"), value);
                    }
                }
            }
            prop_assert!(verifier.verify(&view(&headers, &RawBody::from(&body[..]))).is_err(), "{} accepted arbitrary headers", preset.name);
        }
    }

    #[test]
    fn no_mutation_of_a_signed_request_verifies(body in proptest::collection::vec(any::<u8>(), 1..200),
                                                which in any::<usize>(), position in any::<usize>(), pick in any::<u8>()) {
        let names = body_signing_presets();
        let name = names[which % names.len()];
        let preset = presets::find(name).expect("preset");
        let (verifier, secret) = verifier(name);
        let form = matches!(name, "twilio" | "plivo");
        let content_type = form.then_some("application/x-www-form-urlencoded");
        // Twilio and Plivo sign form fields; Linear and Pusher put their timestamps inside the
        // signed JSON.
        let body = match name {
            "twilio" | "plivo" => format!("Body={}", hex::encode(&body)).into_bytes(),
            "linear" => format!(r#"{{"webhookTimestamp":1767225600000,"data":"{}"}}"#, hex::encode(&body)).into_bytes(),
            "pusher" => format!(r#"{{"time_ms":1767225600000,"data":"{}"}}"#, hex::encode(&body)).into_bytes(),
            _ => body,
        };
        let outgoing = Outgoing { method: Method::POST, body: &body, url: Some("https://hooks.example.com/x"), content_type, now: now() };
        let signed = preset.sign(&Secret::new(secret), &outgoing).expect("sign");
        let mut headers = HeaderMap::new();
        if let Some(content_type) = content_type {
            headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        for (header, value) in &signed {
            headers.append(HeaderName::from_bytes(header.as_bytes()).expect("name"), HeaderValue::from_str(value).expect("value"));
        }
        prop_assert_eq!(verifier.verify(&view(&headers, &RawBody::from(&body[..]))), Ok(()), "{} must accept its own signature", name);
        // hyper hands a body over in the pieces it read; where they are cut must not matter.
        let cut = position % (body.len() + 1);
        let pieces = RawBody::from_chunks(vec![Bytes::copy_from_slice(&body[..cut]), Bytes::copy_from_slice(&body[cut..])]);
        prop_assert_eq!(verifier.verify(&view(&headers, &pieces)), Ok(()), "{} must accept its own signature cut at {}", name, cut);

        // One bit of the body flipped.
        let mut tampered = body.clone();
        let at = position % tampered.len();
        tampered[at] ^= 1 << (pick % 8);
        let tampered = RawBody::from_chunks(vec![Bytes::copy_from_slice(&tampered[..at]), Bytes::copy_from_slice(&tampered[at..])]);
        prop_assert!(verifier.verify(&view(&headers, &tampered)).is_err(), "{}: a flipped body bit verified", name);

        // One character of the signature value changed (never to its own other case).
        let (header, value) = &signed[0];
        let mut bytes = value.clone().into_bytes();
        let at = position % bytes.len();
        bytes[at] = different(bytes[at], pick);
        if let Ok(mutated) = HeaderValue::from_bytes(&bytes) {
            let mut headers = headers.clone();
            headers.insert(HeaderName::from_bytes(header.as_bytes()).expect("name"), mutated);
            prop_assert!(verifier.verify(&view(&headers, &RawBody::from(&body[..]))).is_err(), "{}: a changed signature {:?} verified", name, String::from_utf8_lossy(&bytes));
        }
    }
}
