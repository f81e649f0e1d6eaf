//! The presets against their known-answer vectors: each verifies what its provider sends and
//! refuses what it must, and `sign` reproduces what `verify` accepts.

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use http::{HeaderMap, HeaderValue};

use super::*;
use crate::verify::vector_cases::{signature_headers, vectors, verifier, Case};
use crate::verify::{KeyFormat, Rejection, RequestView, Secret};

#[test]
fn every_preset_has_a_known_answer_vector() {
    let covered: Vec<String> = vectors()
        .iter()
        .map(|v| v["preset"].as_str().expect("preset").to_string())
        .collect();
    for preset in all() {
        assert!(
            covered.iter().any(|c| c == preset.name),
            "no fixture for {}",
            preset.name
        );
    }
    assert!(all().len() > 30, "{} presets", all().len());
}

#[test]
fn known_answers_verify() {
    for vector in vectors() {
        let case = Case::from(&vector);
        assert_eq!(
            case.check(&case.secret, &case.headers, &case.body, case.now),
            Ok(()),
            "{} ({})",
            case.preset.name,
            vector["source"]
        );
    }
}

#[test]
fn tampered_bodies_and_wrong_keys_are_refused() {
    for vector in vectors() {
        let case = Case::from(&vector);
        let name = case.preset.name;
        if case.tampered != case.body {
            assert!(
                case.check(&case.secret, &case.headers, &case.tampered, case.now)
                    .is_err(),
                "{name}: tampered body"
            );
        }
        assert_eq!(
            case.check(&case.wrong_secret, &case.headers, &case.body, case.now),
            Err(Rejection::SignatureMismatch),
            "{name}: wrong key"
        );
    }
}

#[test]
fn stale_and_future_timestamps_are_refused_where_the_provider_checks_them() {
    for vector in vectors() {
        let case = Case::from(&vector);
        let Some((margin, reject_future)) = case.stale_margin() else {
            continue;
        };
        let name = case.preset.name;
        assert_eq!(
            case.check(&case.secret, &case.headers, &case.body, case.now + margin),
            Err(Rejection::StaleTimestamp),
            "{name}: stale"
        );
        let future = case.check(&case.secret, &case.headers, &case.body, case.now - margin);
        if reject_future {
            assert_eq!(future, Err(Rejection::FutureTimestamp), "{name}: future");
        } else {
            assert_eq!(
                future,
                Ok(()),
                "{name}: the provider only refuses old timestamps"
            );
        }
    }
}

#[test]
fn duplicated_malformed_and_missing_signature_headers_are_refused() {
    for vector in vectors() {
        let case = Case::from(&vector);
        let name = case.preset.name;
        let Some(header) = case.first_signature_header() else {
            continue; // Mailgun signs inside the body.
        };
        let mut duplicated = case.headers.clone();
        let value = duplicated[&header].clone();
        duplicated.append(header.clone(), value);
        assert_eq!(
            case.check(&case.secret, &duplicated, &case.body, case.now),
            Err(Rejection::DuplicatedSignature),
            "{name}: duplicated"
        );
        let mut missing = case.headers.clone();
        for other in signature_headers(case.preset) {
            missing.remove(other.as_str());
        }
        assert_eq!(
            case.check(&case.secret, &missing, &case.body, case.now),
            Err(Rejection::MissingSignature),
            "{name}: missing"
        );
        // A header token is taken as it is, so only signatures and basic auth can be malformed.
        let garbled = match case.preset.spec {
            Spec::Signature(_) | Spec::Jwt(_) => Some(["not a signature!"].as_slice()),
            Spec::BasicAuth => Some(
                [
                    "Basic not*base64",
                    "Bearer dXNlcjpwYXNz",
                    "Basic dXNlcnBhc3M=", // base64 of `userpass`: no colon
                ]
                .as_slice(),
            ),
            Spec::HeaderToken(_) | Spec::QueryToken(_) | Spec::AwsSns => None,
        };
        for text in garbled.unwrap_or_default() {
            let mut malformed = case.headers.clone();
            for other in signature_headers(case.preset) {
                if malformed.contains_key(other.as_str()) {
                    malformed.insert(
                        HeaderName::from_bytes(other.as_bytes()).expect("name"),
                        HeaderValue::from_static(text),
                    );
                }
            }
            assert_eq!(
                case.check(&case.secret, &malformed, &case.body, case.now),
                Err(Rejection::MalformedSignature),
                "{name}: malformed {text}"
            );
        }
    }
}

#[test]
fn sign_reproduces_what_verify_accepts_for_every_hmac_preset() {
    let now = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    for preset in all() {
        let Spec::Signature(spec) = &preset.spec else {
            continue;
        };
        if !spec.algorithm.is_hmac() {
            continue;
        }
        let secret = match spec.key_format {
            KeyFormat::Whsec => format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD.encode(b"sign-test-key")
            ),
            // Teams and Airtable hand out their HMAC keys in base64.
            KeyFormat::Base64Der => {
                base64::engine::general_purpose::STANDARD.encode(b"sign-test-key")
            }
            _ => "sign-test-key".to_string(),
        };
        // Twilio and Plivo sign form fields; Plivo refuses any other body as unsigned.
        let form = preset.name == "twilio" || spec.template.contains("{url_plivo}");
        let body = if spec.signature_in_body.is_some() {
            br#"{"signature":{"timestamp":"1767225600","token":"tok","signature":""}}"#.to_vec()
        } else if form {
            b"Body=hi&From=%2B1555".to_vec()
        } else if preset.name == "linear" {
            br#"{"webhookTimestamp":1767225600000}"#.to_vec()
        } else if preset.name == "pusher" {
            br#"{"time_ms":1767225600000}"#.to_vec()
        } else {
            br#"{"event":"x"}"#.to_vec()
        };
        let url = Some("https://hooks.example.com/x");
        let content_type = form.then_some("application/x-www-form-urlencoded");
        let outgoing = Outgoing {
            method: Method::POST,
            body: &body,
            url,
            content_type,
            now,
        };
        let signed = preset
            .sign(&Secret::new(secret.clone()), &outgoing)
            .expect("sign");
        let mut headers = HeaderMap::new();
        if let Some(content_type) = content_type {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(content_type),
            );
        }
        let mut body = body.clone();
        for (name, value) in &signed {
            if name.starts_with('/') {
                let text = String::from_utf8(body)
                    .expect("utf8")
                    .replace(r#""signature":"""#, &format!(r#""signature":"{value}""#));
                body = text.into_bytes();
            } else {
                headers.append(
                    HeaderName::from_bytes(name.as_bytes()).expect("name"),
                    value.parse().expect("value"),
                );
            }
        }
        let view = RequestView {
            method: &Method::POST,
            headers: &headers,
            query: None,
            body: &crate::body::RawBody::from(&body[..]),
            public_url: url,
            now,
        };
        assert_eq!(
            verifier(preset, &secret).verify(&view),
            Ok(()),
            "{}: {signed:?}",
            preset.name
        );
    }
}

#[test]
fn matching_keys_names_only_the_active_secret_that_signed() {
    let preset = find("stripe").expect("stripe");
    let Spec::Signature(spec) = &preset.spec else {
        panic!("stripe signs");
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let right = Secret::new("whsec_right");
    let body = b"{}";
    let outgoing = Outgoing {
        method: http::Method::POST,
        body,
        url: None,
        content_type: None,
        now,
    };
    let mut headers = HeaderMap::new();
    for (name, value) in preset.sign(&right, &outgoing).expect("sign") {
        let name = http::HeaderName::from_bytes(name.as_bytes()).expect("name");
        headers.insert(name, HeaderValue::from_str(&value).expect("value"));
    }
    let expired = Some(now - Duration::from_secs(1));
    let secrets = [
        (Secret::new("whsec_wrong"), None),
        (right.clone(), None),
        (right, expired),
    ];
    let verifier = crate::verify::SignatureVerifier::new(
        spec.scheme().expect("scheme"),
        spec.key_format,
        &secrets,
    )
    .expect("keys");
    let raw = crate::body::RawBody::from(&body[..]);
    let view = RequestView {
        method: &http::Method::POST,
        headers: &headers,
        query: None,
        body: &raw,
        public_url: None,
        now,
    };
    assert_eq!(verifier.matching_keys(&view), Ok(vec![1]));
}

#[test]
fn each_signature_set_is_checked_with_its_own_timestamp() {
    let preset = find("persona").expect("persona");
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let key = Secret::new("persona-key");
    let body = br#"{"data":{}}"#;
    let set_at = |when| {
        let outgoing = Outgoing {
            method: Method::POST,
            body,
            url: None,
            content_type: None,
            now: when,
        };
        let signed = preset.sign(&key, &outgoing).expect("sign");
        signed[0].1.clone()
    };
    let fresh = set_at(now);
    let stale = set_at(now - Duration::from_secs(3600));
    let forged_fresh = fresh.replace("v1=", "v1=00");
    let forged_fresh = &forged_fresh[..forged_fresh.len() - 2];
    let verdict = |value: String| {
        let mut headers = HeaderMap::new();
        headers.insert("persona-signature", value.parse().expect("value"));
        let view = RequestView {
            method: &Method::POST,
            headers: &headers,
            query: None,
            body: &crate::body::RawBody::from(&body[..]),
            public_url: None,
            now,
        };
        verifier(preset, "persona-key").verify(&view)
    };
    assert_eq!(verdict(format!("{stale} {fresh}")), Ok(()));
    assert_eq!(verdict(format!("{fresh} {stale}")), Ok(()));
    // A stale set's good signature does not lend itself to a fresh set's timestamp.
    assert_eq!(
        verdict(format!("{stale} {forged_fresh}")),
        Err(Rejection::SignatureMismatch)
    );
    assert_eq!(verdict(stale.clone()), Err(Rejection::StaleTimestamp));
    // Every set costs a MAC over the body, so a header may not carry many.
    let many = vec![fresh.clone(); crate::verify::scheme::MAX_SIGNATURE_SETS + 1].join(" ");
    assert_eq!(verdict(many), Err(Rejection::MalformedSignature));
    let most = vec![fresh; crate::verify::scheme::MAX_SIGNATURE_SETS].join(" ");
    assert_eq!(verdict(most), Ok(()));
}
