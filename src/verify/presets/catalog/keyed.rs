//! Senders that sign with a private key or a JWT: RSA (PKCS#1 v1.5, PSS) and JWT-carried body hashes.

use crate::verify::jwt::{JwtAlgorithm, JwtSpec};
use crate::verify::keys::KeyFormat;
use crate::verify::presets::shapes::*;
use crate::verify::presets::{Preset, Spec};
use crate::verify::scheme::{Algorithm, Encoding, Prehash, TimeUnit};
use crate::verify::spec::SchemeSpec;
use crate::verify::Field;

/// RSA PKCS#1 v1.5 over the raw body, base64, PEM public keys: what the rows below start from.
fn rsa_body(algorithm: Algorithm, header: &str) -> SchemeSpec {
    SchemeSpec {
        algorithm,
        encoding: Encoding::Base64,
        key_format: KeyFormat::Pem,
        header_sets: sig(header),
        ..body_hmac()
    }
}

pub(in crate::verify::presets) fn rows() -> Vec<Preset> {
    vec![
    // apidocs.bridge.xyz "Webhook Event Signature Verification": t=<ms>,v0=<b64>; RSA-SHA256 over
    // the SHA-256 digest of "{t}.{body}" ("two passes of hashing"; its published test vector
    // verifies only so); a per-endpoint PEM public key; events older than 10 minutes refused.
    with_event(
        preset("bridge", "Bridge: X-Webhook-Signature: t=<ms>,v0=<b64 RSA-SHA256 of SHA-256({t}.{body})>; per-endpoint PEM public key; ±600 s",
            SchemeSpec {
                format: stripe_like(',', &["v0"], "t"),
                template: "{timestamp}.{body}".into(),
                prehash: Some(Prehash::Sha256),
                timestamp: field_stamp(TimeUnit::Millis, 600, true),
                ..rsa_body(Algorithm::RsaPkcs1Sha256, "X-Webhook-Signature")
            }),
        Field::Json("/event_type"), Some(Field::Json("/event_id"))),
    // developers.fireblocks.com "Validate Requests" (webhooks v1) and its code examples:
    // Fireblocks-Signature = base64 RSA-SHA512 (PKCS#1 v1.5) of the body, verified with the PEM key
    // published there (production and sandbox differ, so the route names it as its secret). No
    // timestamp is signed: a captured delivery can be replayed.
    with_event(
        preset("fireblocks", "Fireblocks (webhooks v1): Fireblocks-Signature: <b64 RSA-SHA512 of the body>; Fireblocks' published PEM key as the secret; no timestamp",
            rsa_body(Algorithm::RsaPkcs1Sha512, "Fireblocks-Signature")),
        Field::Json("/type"), None),
    // fusionauth.io/docs/extend/events-and-webhooks/signing and FusionAuth's example listener
    // (fusionauth-example-javascript-webhooks signature-verify/app.js): a JWT in
    // X-FusionAuth-Signature-JWT whose `request_body_sha256` claim is the base64 SHA-256 of the body;
    // signed with an HMAC, RSA or EC key from Key Master. FusionAuth sets no exp, so no window.
    Preset {
        name: "fusionauth",
        description: "FusionAuth: X-FusionAuth-Signature-JWT: a JWT (HS256, RS256 or ES256) whose request_body_sha256 is the b64 SHA-256 of the body",
        spec: Spec::Jwt(JwtSpec {
            header: "X-FusionAuth-Signature-JWT".into(),
            algorithms: vec![JwtAlgorithm::Hs256, JwtAlgorithm::Rs256, JwtAlgorithm::Es256],
            body_hash_claim: "request_body_sha256".into(),
            body_hash_encoding: Encoding::Base64,
            leeway: 60,
        }),
        methods: POST,
        event: Some(Field::Json("/event/type")),
        delivery_id: Some(Field::Json("/event/id")),
        handshake: crate::verify::handshake::Handshake::None,
    },
    ]
}
