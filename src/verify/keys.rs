//! Keys prepared once at load: keyed HMAC states and parsed public keys, each with an optional
//! `not_after` after which it stops matching.

use std::borrow::Cow;
use std::time::SystemTime;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use p256::pkcs8::DecodePublicKey;
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::{Choice, ConstantTimeEq};

use super::scheme::{Algorithm, BASE64};
use super::Secret;

/// How a secret's text becomes key material. Named in YAML `raw`, `whsec`, `hex` and `base64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyFormat {
    /// The bytes as written: most HMAC senders, Stripe's `whsec_` included.
    Raw,
    /// `whsec_` + base64 (the prefix optional, padding optional): Standard Webhooks, Svix, Clerk, Resend.
    Whsec,
    /// A hex public key (Discord's Ed25519).
    Hex,
    /// Base64 bytes: a DER SubjectPublicKeyInfo for SendGrid's ECDSA P-256, the 32 raw bytes of an
    /// Ed25519 key (Telnyx), the key itself for an HMAC (Microsoft Teams, Airtable).
    #[serde(rename = "base64")]
    Base64Der,
}

enum Material {
    HmacSha1(Hmac<Sha1>),
    HmacSha256(Hmac<Sha256>),
    HmacSha512(Hmac<Sha512>),
    Ed25519(ed25519_dalek::VerifyingKey),
    EcdsaP256(p256::ecdsa::VerifyingKey),
}

pub struct Key {
    material: Material,
    not_after: Option<SystemTime>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// Why a secret cannot become a key. Config reports it against the secret's place in the route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("expected a whsec_ key: `whsec_` followed by base64")]
    NotWhsec,
    #[error("expected a hex Ed25519 public key (64 hex digits)")]
    NotHex,
    #[error(
        "expected standard base64: a DER P-256 public key, an Ed25519 public key or HMAC key bytes"
    )]
    NotBase64Der,
    #[error("the key is empty")]
    Empty,
    /// HMAC takes a key of any length, so this is not expected; kept rather than unwrapped.
    #[error("{0}")]
    HmacKeyLength(hmac::digest::InvalidLength),
    #[error("an Ed25519 public key is 32 bytes (64 hex digits)")]
    Ed25519Length,
    #[error("not a valid Ed25519 public key")]
    NotEd25519,
    #[error("not a P-256 public key in DER SubjectPublicKeyInfo form")]
    NotP256,
}

fn decode_key(format: KeyFormat, secret: &Secret) -> Result<Vec<u8>, KeyError> {
    let text = secret.expose();
    match format {
        KeyFormat::Raw => Ok(text.to_vec()),
        KeyFormat::Whsec => {
            let encoded = text.strip_prefix(b"whsec_").unwrap_or(text);
            BASE64.decode(encoded).map_err(|_| KeyError::NotWhsec)
        }
        KeyFormat::Hex => hex::decode(text).map_err(|_| KeyError::NotHex),
        KeyFormat::Base64Der => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| KeyError::NotBase64Der),
    }
}

fn keyed<M: Mac + hmac::digest::KeyInit>(key: &[u8]) -> Result<M, KeyError> {
    <M as Mac>::new_from_slice(key).map_err(KeyError::HmacKeyLength)
}

fn update_all<M: Mac>(mac: &mut M, message: &[Cow<'_, [u8]>]) {
    for part in message {
        mac.update(part);
    }
}

fn concatenated(message: &[Cow<'_, [u8]>]) -> Vec<u8> {
    message
        .iter()
        .flat_map(|part| part.iter().copied())
        .collect()
}

impl Key {
    pub fn new(
        algorithm: Algorithm,
        format: KeyFormat,
        secret: &Secret,
        not_after: Option<SystemTime>,
    ) -> Result<Key, KeyError> {
        let bytes = decode_key(format, secret)?;
        if bytes.is_empty() {
            return Err(KeyError::Empty);
        }
        let material = match algorithm {
            Algorithm::HmacSha1 => Material::HmacSha1(keyed(&bytes)?),
            Algorithm::HmacSha256 => Material::HmacSha256(keyed(&bytes)?),
            Algorithm::HmacSha512 => Material::HmacSha512(keyed(&bytes)?),
            Algorithm::Ed25519 => {
                let array: [u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| KeyError::Ed25519Length)?;
                Material::Ed25519(
                    ed25519_dalek::VerifyingKey::from_bytes(&array)
                        .map_err(|_| KeyError::NotEd25519)?,
                )
            }
            Algorithm::EcdsaP256Sha256 => Material::EcdsaP256(
                p256::ecdsa::VerifyingKey::from_public_key_der(&bytes)
                    .map_err(|_| KeyError::NotP256)?,
            ),
        };
        Ok(Key {
            material,
            not_after,
        })
    }

    pub fn is_active(&self, now: SystemTime) -> bool {
        self.not_after.is_none_or(|limit| now <= limit)
    }

    /// The MAC of the message, for HMAC keys; `None` for public keys, which cannot sign.
    pub fn mac(&self, message: &[Cow<'_, [u8]>]) -> Option<Vec<u8>> {
        fn run<M: Mac + Clone>(mac: &M, message: &[Cow<'_, [u8]>]) -> Vec<u8> {
            let mut mac = mac.clone();
            update_all(&mut mac, message);
            mac.finalize().into_bytes().to_vec()
        }
        match &self.material {
            Material::HmacSha1(mac) => Some(run(mac, message)),
            Material::HmacSha256(mac) => Some(run(mac, message)),
            Material::HmacSha512(mac) => Some(run(mac, message)),
            Material::Ed25519(_) | Material::EcdsaP256(_) => None,
        }
    }

    /// Whether any candidate is a valid signature of the message under this key. MACs are compared
    /// in constant time, against every candidate.
    pub fn matches(&self, message: &[Cow<'_, [u8]>], candidates: &[Vec<u8>]) -> Choice {
        match &self.material {
            Material::Ed25519(key) => {
                let message = concatenated(message);
                let ok = candidates.iter().any(|candidate| {
                    ed25519_dalek::Signature::from_slice(candidate)
                        .is_ok_and(|signature| key.verify_strict(&message, &signature).is_ok())
                });
                Choice::from(u8::from(ok))
            }
            Material::EcdsaP256(key) => {
                use p256::ecdsa::signature::Verifier as _;
                let message = concatenated(message);
                let ok = candidates.iter().any(|candidate| {
                    p256::ecdsa::Signature::from_der(candidate)
                        .is_ok_and(|signature| key.verify(&message, &signature).is_ok())
                });
                Choice::from(u8::from(ok))
            }
            _ => match self.mac(message) {
                Some(tag) => candidates.iter().fold(Choice::from(0), |any, candidate| {
                    any | tag.as_slice().ct_eq(candidate)
                }),
                None => Choice::from(0),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> Vec<Cow<'_, [u8]>> {
        vec![Cow::Borrowed(text.as_bytes())]
    }

    #[test]
    fn hmac_known_answers() {
        // RFC 4231 test case 2 and RFC 2202 test case 2: key "Jefe".
        let cases = [
            (Algorithm::HmacSha1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
            (Algorithm::HmacSha256, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            (Algorithm::HmacSha512, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"),
        ];
        for (algorithm, expected) in cases {
            let key = Key::new(algorithm, KeyFormat::Raw, &Secret::new("Jefe"), None).expect("key");
            let message = parts("what do ya want for nothing?");
            assert_eq!(
                key.mac(&message).map(hex::encode),
                Some(expected.to_string())
            );
            let good = hex::decode(expected).expect("hex");
            assert!(bool::from(
                key.matches(&message, &[vec![0; good.len()], good])
            ));
        }
    }

    #[test]
    fn whsec_keys_decode_with_or_without_prefix_and_padding() {
        for text in [
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_dGVzdA",
            "whsec_dGVzdA==",
        ] {
            assert!(
                decode_key(KeyFormat::Whsec, &Secret::new(text)).is_ok(),
                "{text}"
            );
        }
        assert!(Key::new(
            Algorithm::HmacSha256,
            KeyFormat::Whsec,
            &Secret::new("whsec_***"),
            None
        )
        .is_err());
    }

    #[test]
    fn bad_public_keys_are_refused_at_load() {
        assert!(Key::new(
            Algorithm::Ed25519,
            KeyFormat::Hex,
            &Secret::new("abcd"),
            None
        )
        .is_err());
        assert!(Key::new(
            Algorithm::EcdsaP256Sha256,
            KeyFormat::Base64Der,
            &Secret::new("AAAA"),
            None
        )
        .is_err());
    }

    #[test]
    fn not_after_ends_a_key() {
        let limit = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000);
        let key = Key::new(
            Algorithm::HmacSha256,
            KeyFormat::Raw,
            &Secret::new("k"),
            Some(limit),
        )
        .expect("key");
        assert!(key.is_active(limit));
        assert!(!key.is_active(limit + std::time::Duration::from_secs(1)));
    }
}
