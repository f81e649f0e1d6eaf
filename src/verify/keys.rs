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

/// How a secret's text becomes key material. Named in YAML `raw`, `whsec`, `hex`, `base64` and `pem`.
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
    /// A PEM RSA public key: `BEGIN PUBLIC KEY` (SubjectPublicKeyInfo) or `BEGIN RSA PUBLIC KEY`
    /// (PKCS#1).
    Pem,
}

/// The smallest RSA modulus accepted: shorter keys are within reach of factoring.
pub const MIN_RSA_BITS: usize = 2048;

/// How an RSA key checks a signature: the padding and the hash it pairs with.
#[derive(Debug, Clone, Copy)]
enum RsaPadding {
    Pkcs1Sha256,
    Pkcs1Sha512,
    Pkcs1Sha1,
    PssSha256,
}

enum Material {
    HmacSha1(Hmac<Sha1>),
    HmacSha256(Hmac<Sha256>),
    HmacSha512(Hmac<Sha512>),
    Ed25519(ed25519_dalek::VerifyingKey),
    EcdsaP256(p256::ecdsa::VerifyingKey),
    Rsa(rsa::RsaPublicKey, RsaPadding),
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
    #[error("expected a PEM RSA public key (BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY) of at most 4096 bits")]
    NotRsaPem,
    #[error("the RSA key has {0} bits; at least 2048 are required")]
    RsaTooShort(usize),
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
        KeyFormat::Pem => Ok(text.to_vec()),
    }
}

/// An RSA public key from PEM, SubjectPublicKeyInfo or PKCS#1, refused under [`MIN_RSA_BITS`]. The
/// `rsa` crate itself refuses moduli over 4096 bits and exponents it considers unsafe.
pub fn rsa_public_key(pem: &[u8]) -> Result<rsa::RsaPublicKey, KeyError> {
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    use rsa::pkcs8::DecodePublicKey as _;
    use rsa::traits::PublicKeyParts as _;
    let text = std::str::from_utf8(pem)
        .map_err(|_| KeyError::NotRsaPem)?
        .trim();
    let parsed = if text.starts_with("-----BEGIN RSA PUBLIC KEY-----") {
        rsa::RsaPublicKey::from_pkcs1_pem(text).ok()
    } else {
        rsa::RsaPublicKey::from_public_key_pem(text).ok()
    };
    let key = parsed.ok_or(KeyError::NotRsaPem)?;
    let bits = key.n().bits();
    if bits < MIN_RSA_BITS {
        return Err(KeyError::RsaTooShort(bits));
    }
    Ok(key)
}

fn rsa_padding(algorithm: Algorithm) -> Option<RsaPadding> {
    match algorithm {
        Algorithm::RsaPkcs1Sha256 => Some(RsaPadding::Pkcs1Sha256),
        Algorithm::RsaPkcs1Sha512 => Some(RsaPadding::Pkcs1Sha512),
        Algorithm::RsaPkcs1Sha1 => Some(RsaPadding::Pkcs1Sha1),
        Algorithm::RsaPssSha256 => Some(RsaPadding::PssSha256),
        _ => None,
    }
}

/// Whether any candidate is this RSA key's signature of the message. The message is hashed in
/// place, part by part; a candidate not as long as the modulus is no signature of this key.
fn rsa_matches(
    key: &rsa::RsaPublicKey,
    padding: RsaPadding,
    message: &[Cow<'_, [u8]>],
    candidates: &[Vec<u8>],
) -> bool {
    use rsa::traits::PublicKeyParts as _;
    fn hashed<D: sha2::Digest>(message: &[Cow<'_, [u8]>]) -> Vec<u8> {
        let mut digest = D::new();
        for part in message {
            digest.update(part);
        }
        digest.finalize().to_vec()
    }
    let digest = match padding {
        RsaPadding::Pkcs1Sha256 | RsaPadding::PssSha256 => hashed::<Sha256>(message),
        RsaPadding::Pkcs1Sha512 => hashed::<Sha512>(message),
        RsaPadding::Pkcs1Sha1 => hashed::<Sha1>(message),
    };
    candidates
        .iter()
        .filter(|candidate| candidate.len() == key.size())
        .any(|candidate| {
            let verdict = match padding {
                RsaPadding::Pkcs1Sha256 => {
                    key.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest, candidate)
                }
                RsaPadding::Pkcs1Sha512 => {
                    key.verify(rsa::Pkcs1v15Sign::new::<Sha512>(), &digest, candidate)
                }
                RsaPadding::Pkcs1Sha1 => {
                    key.verify(rsa::Pkcs1v15Sign::new::<Sha1>(), &digest, candidate)
                }
                RsaPadding::PssSha256 => key.verify(rsa::Pss::new::<Sha256>(), &digest, candidate),
            };
            verdict.is_ok()
        })
}

fn keyed<M: Mac + hmac::digest::KeyInit>(key: &[u8]) -> Result<M, KeyError> {
    <M as Mac>::new_from_slice(key).map_err(KeyError::HmacKeyLength)
}

/// Whether the message's MAC is any of the candidates, compared in constant time against every
/// one, the tag kept where `finalize` left it rather than copied into a `Vec` per request.
fn mac_matches<M: Mac + Clone>(
    mac: &M,
    message: &[Cow<'_, [u8]>],
    candidates: &[Vec<u8>],
) -> Choice {
    let mut mac = mac.clone();
    update_all(&mut mac, message);
    let tag = mac.finalize().into_bytes();
    candidates.iter().fold(Choice::from(0), |any, candidate| {
        any | tag.as_slice().ct_eq(candidate)
    })
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
        if let Some(padding) = rsa_padding(algorithm) {
            return Ok(Key {
                material: Material::Rsa(rsa_public_key(&bytes)?, padding),
                not_after,
            });
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
            // Prepared above; kept so a new algorithm cannot be forgotten here.
            Algorithm::RsaPkcs1Sha256
            | Algorithm::RsaPkcs1Sha512
            | Algorithm::RsaPkcs1Sha1
            | Algorithm::RsaPssSha256 => return Err(KeyError::NotRsaPem),
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
            Material::Ed25519(_) | Material::EcdsaP256(_) | Material::Rsa(..) => None,
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
            Material::Rsa(key, padding) => {
                Choice::from(u8::from(rsa_matches(key, *padding, message, candidates)))
            }
            Material::HmacSha1(mac) => mac_matches(mac, message, candidates),
            Material::HmacSha256(mac) => mac_matches(mac, message, candidates),
            Material::HmacSha512(mac) => mac_matches(mac, message, candidates),
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

    /// A 2048-bit key in both PEM forms and its signatures of "what do ya want for nothing?", made
    /// with Python's `cryptography` (PSS: MGF1-SHA-256, 32-byte salt); and a 1024-bit key.
    const RSA_SPKI: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA3PG7NDFTGQmz+SVj9BKD\n+WBaQ5UiJQp82YU9rLcX9l6AfovlhHoBCvEC0oCWU3TTpgWZgD26YN8c4h+edWh0\n8PY8OhPNY6ypOMjoWvwuHXx5GDsIDbz9saJpyoWnp7Xw5KuEg0v2deLjU41WD0Cm\n+o6zcop0F1OItAxtpoGPyd3d96GXP25U+25NgMJAncpu/e6/UOz+DxRplNfC8YcG\nuBXRorQpiYBhdl9kTBKlHLHbKE98JJMRlO1HVKoeKx4OU6EbSMQO7+fERpY7HueE\nsKaKT2LV90l84KrMbmfIPwH33oiDbulCycAUfucjmf2c16IABWN8tuqm6W/94Og+\ndQIDAQAB\n-----END PUBLIC KEY-----\n";
    const RSA_PKCS1: &str = "-----BEGIN RSA PUBLIC KEY-----\nMIIBCgKCAQEA3PG7NDFTGQmz+SVj9BKD+WBaQ5UiJQp82YU9rLcX9l6AfovlhHoB\nCvEC0oCWU3TTpgWZgD26YN8c4h+edWh08PY8OhPNY6ypOMjoWvwuHXx5GDsIDbz9\nsaJpyoWnp7Xw5KuEg0v2deLjU41WD0Cm+o6zcop0F1OItAxtpoGPyd3d96GXP25U\n+25NgMJAncpu/e6/UOz+DxRplNfC8YcGuBXRorQpiYBhdl9kTBKlHLHbKE98JJMR\nlO1HVKoeKx4OU6EbSMQO7+fERpY7HueEsKaKT2LV90l84KrMbmfIPwH33oiDbulC\nycAUfucjmf2c16IABWN8tuqm6W/94Og+dQIDAQAB\n-----END RSA PUBLIC KEY-----\n";
    const RSA_1024: &str = "-----BEGIN PUBLIC KEY-----\nMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDIV8hNHDZo/XBNLArggt90/PCn\nZLk5kACe/wiU1Hc7jXvV83ce8rX4cjpAJaQJQjtiebERw3pi4lPd96Y34ZECTFDs\nArvairYHu8J8x+wc5g+/wQEC3KlXnLDH7Sz0H53zxcUlvgmYXuD4gJLHLigmvANF\nPNtTCRL95vhYuDCKhQIDAQAB\n-----END PUBLIC KEY-----\n";
    const RSA_SIGNATURES: [(Algorithm, &str); 4] = [
        (Algorithm::RsaPkcs1Sha256, "2keyjtcKn4+bDNCaktAm9D0BVXzjM6xdN6vF3sDlWAurbSYgqZ3SO18sYWIek58QpTIJti6zc0Ho7EJ+C8JNMp5mhDMwkAQavLZyfPUxyTLeO+P6aGjzCHpxmeGUT13qVPWSeD6Qd7Ie9SOCjYLvXG6gHsWaRuVgbXlN7talDs/nN2leDocJo9tBqrtznVVsa43+LrGINtu5gdRyqKTXc+dlLEGIDgFmtx5jk5wuCHldei0SAfUbJSRh0EFcQOZl5IYIjGXqomsJU5h2083ZRRHakFnSNJVM1EKR/655QE5MjCkMtLJIe/PG+ajSaOf94vhg5XLYOKYT+bbOZ4fAnQ=="),
        (Algorithm::RsaPkcs1Sha512, "S54za1v8CQcf+wKBtywxGnK7pA+vcfb2lTI1iBvPmaivuC8J+wYwmdB3j9Q72gcUAxqR2FVZZw4sY1VooIXMqTy8DJs+0e7QTG8BMmaIFr9Xyv+3hJ9rLd5BX4Y5HmabKXYToh7UPEbcjRH789TNOalf0s0JMoq/fsPwviERkPf0/DDKNAZGhZ4A9pVGjdqQxU6YoGWr8riQ3Q8SJIyGOnTM5P0ltXHlwj72M/4cJHglDnnCeHAd1vMCk+bE0ryOQ6O7Llu181eyHBxd+vPFByNWZrpHZeLyJKKngO4+uFlzCZIFv+57zOKt2LZjTBRMsNfYZ58qxoWCIHwfvCu0+Q=="),
        (Algorithm::RsaPkcs1Sha1, "AMlhTK0s0tB3joR06AI8CLvhdV49znwno0yt+g5m+NKH+7jTAgwO1CXRqfD1+JsaNpmC4+N+me92hDvFxNXTbF9QSmbd8nuF9fR0zYc/6Bxb2tzQ0j2AKc8DDjetrJ9BT17aoCzci3+3VcoQUXWu+zr17PEentVsKA4aWPzTeIQsQvgvpMwTcIoSfrOpMimUtWBBhcYRQU7gaEGnToztYOM7TbCA/9KZsjpnaDI0yrhFAwXEGmnRSvS81wMUDqEtjjfe4X/upcJo5sIN0noGPJh3A4rEH1Rz2Hv1bGzNrGMjGxVNPNDaadtPyPGYcnmRlgoBRSXiLWmykF7979twSQ=="),
        (Algorithm::RsaPssSha256, "2fP7LkmGowkKr2jOUCbIPdIx0lEf/oKXnv8XLiuKNjIjpdrBqvliB5gIdzl+AlCnxyCBAZlp7Azwk5l+e5lqLorQ0m177mhtJapnxkFIV2tPa1TrZbGo+cD/HALQZ4OitgJ1GsFnUQXhPBkcTOxRsiOyDVuw22Hq3b4tk9WDzydqWcr6gQ+VbxqbUgU+tjCOlBmIwiBLSEt33y7+7L/hqhgioXQKpgfED86wSG2Gl8436b4Vm4wNZidKbghE1Wy/f1pWaE5kB+FARwbJdHU6zgZxqG5uDeWJiyTiMNcZKpyBTMhl+J92XaIG9+1TQKgrJzMOidQRc53Q6UMCW8YYBw=="),
    ];

    #[test]
    fn rsa_signatures_verify_under_their_own_algorithm_only() {
        let message = parts("what do ya want for nothing?");
        for pem in [RSA_SPKI, RSA_PKCS1] {
            for (algorithm, _) in RSA_SIGNATURES {
                let key =
                    Key::new(algorithm, KeyFormat::Pem, &Secret::new(pem), None).expect("key");
                for (signed_with, signature) in RSA_SIGNATURES {
                    let candidate = BASE64.decode(signature).expect("base64");
                    assert_eq!(
                        bool::from(key.matches(&message, &[candidate])),
                        signed_with == algorithm,
                        "{algorithm:?} key, {signed_with:?} signature"
                    );
                }
                let (_, good) = RSA_SIGNATURES[0];
                let mut tampered = BASE64.decode(good).expect("base64");
                tampered[7] ^= 1;
                assert!(!bool::from(key.matches(&message, &[tampered.clone()])));
                assert!(!bool::from(
                    key.matches(&parts("what do ya want for something?"), &[tampered])
                ));
            }
        }
    }

    #[test]
    fn rsa_keys_under_2048_bits_or_not_pem_are_refused_at_load() {
        let load = |text: &str| {
            Key::new(
                Algorithm::RsaPkcs1Sha256,
                KeyFormat::Pem,
                &Secret::new(text),
                None,
            )
        };
        assert_eq!(load(RSA_1024).err(), Some(KeyError::RsaTooShort(1024)));
        let truncated = &RSA_SPKI[..RSA_SPKI.len() / 2];
        for bad in [
            "",
            "not a key",
            truncated,
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        ] {
            assert!(load(bad).is_err(), "{bad:?}");
        }
        // A P-256 key in PEM is a public key, but not an RSA one.
        let p256 = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEVs/o5+uQbTjL3chynL4wXgUg2R9\nq9UU8I5mEovUf86QZ7kOBIjJwqnzD1omageEHWwHdBO6B+dFabmdT9POxg==\n-----END PUBLIC KEY-----\n";
        assert_eq!(load(p256).err(), Some(KeyError::NotRsaPem));
    }
}
