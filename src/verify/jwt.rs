//! JWT-carried signatures: a JWT in one header, signed with HS256, RS256 or ES256, whose claims carry
//! a hash of the raw body (FusionAuth's `request_body_sha256`). Which algorithm verifies is decided by
//! each key at load, never by the token, so a token cannot pick an algorithm its key was not meant for.

use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::keys::{rsa_public_key, KeyError};
use super::scheme::{single_header, Encoding};
use super::spec::SpecError;
use super::{Rejection, Secret};
use crate::body::RawBody;

/// The JWS algorithms a JWT route may accept, named in YAML `hs256`, `rs256` and `es256`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JwtAlgorithm {
    Hs256,
    Rs256,
    Es256,
}

impl JwtAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::Hs256 => "hs256",
            JwtAlgorithm::Rs256 => "rs256",
            JwtAlgorithm::Es256 => "es256",
        }
    }

    fn jws(self) -> jsonwebtoken::Algorithm {
        match self {
            JwtAlgorithm::Hs256 => jsonwebtoken::Algorithm::HS256,
            JwtAlgorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
            JwtAlgorithm::Es256 => jsonwebtoken::Algorithm::ES256,
        }
    }
}

fn one_minute() -> u64 {
    60
}

/// A JWT scheme as written: for presets and YAML `verify: {jwt: ...}` alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSpec {
    /// The header carrying the JWT.
    pub header: String,
    /// The algorithms the route's keys may be for: an HMAC secret is `hs256`, a PEM RSA public key
    /// `rs256`, a PEM P-256 public key `es256`.
    pub algorithms: Vec<JwtAlgorithm>,
    /// The claim holding the SHA-256 of the raw body.
    pub body_hash_claim: String,
    /// How that claim writes the hash: `base64` or `hex`.
    pub body_hash_encoding: Encoding,
    /// Seconds of clock skew allowed on `exp`, `nbf` and `iat`, where the token has them.
    #[serde(default = "one_minute")]
    pub leeway: u64,
}

impl JwtSpec {
    /// The header name, with anything a request could never satisfy refused.
    pub fn check(&self) -> Result<HeaderName, SpecError> {
        let refuse = |key: &str, message: &str| SpecError {
            key: key.to_string(),
            message: message.to_string(),
        };
        if self.algorithms.is_empty() {
            return Err(refuse(
                "algorithms",
                "name at least one of hs256, rs256, es256",
            ));
        }
        if self.body_hash_claim.is_empty() {
            return Err(refuse("body_hash_claim", "must not be empty"));
        }
        HeaderName::from_bytes(self.header.as_bytes())
            .map_err(|_| refuse("header", "not a valid header name"))
    }
}

/// One secret of a JWT route, its algorithm fixed by what the secret is.
struct JwtKey {
    key: DecodingKey,
    validation: Validation,
    not_after: Option<SystemTime>,
}

impl JwtKey {
    fn new(secret: &Secret, not_after: Option<SystemTime>) -> Result<(Self, JwtAlgorithm), String> {
        let (algorithm, key) = decoding_key(secret.expose())?;
        // Only the signature and the algorithm are left to the crate: the time claims are checked
        // against the request's clock below, and no claim is required, as senders differ.
        let mut validation = Validation::new(algorithm.jws());
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let key = JwtKey {
            key,
            validation,
            not_after,
        };
        Ok((key, algorithm))
    }

    fn is_active(&self, now: SystemTime) -> bool {
        self.not_after.is_none_or(|limit| now <= limit)
    }
}

/// A PEM text is a public key and must parse as one (RSA of 2048 bits or more, or P-256); anything
/// else is an HMAC secret. A PEM key is thus never used as an HMAC secret, the classic confusion.
fn decoding_key(text: &[u8]) -> Result<(JwtAlgorithm, DecodingKey), String> {
    use p256::pkcs8::DecodePublicKey as _;
    use rsa::traits::PublicKeyParts as _;
    if text.is_empty() {
        return Err(KeyError::Empty.to_string());
    }
    if !text.trim_ascii_start().starts_with(b"-----BEGIN") {
        return Ok((JwtAlgorithm::Hs256, DecodingKey::from_secret(text)));
    }
    match rsa_public_key(text) {
        Ok(key) => Ok((
            JwtAlgorithm::Rs256,
            DecodingKey::from_rsa_raw_components(&key.n().to_bytes_be(), &key.e().to_bytes_be()),
        )),
        Err(KeyError::RsaTooShort(bits)) => Err(KeyError::RsaTooShort(bits).to_string()),
        Err(_) => {
            let pem = std::str::from_utf8(text).map_err(|_| "not a PEM text".to_string())?;
            let key = p256::ecdsa::VerifyingKey::from_public_key_pem(pem.trim()).map_err(|_| {
                "a PEM key that is neither an RSA public key (2048 to 4096 bits) nor a P-256 public key"
                    .to_string()
            })?;
            let point = key.to_encoded_point(false);
            Ok((
                JwtAlgorithm::Es256,
                DecodingKey::from_ec_der(point.as_bytes()),
            ))
        }
    }
}

/// A JWT scheme with its keys prepared.
pub struct JwtVerifier {
    header: HeaderName,
    claim: String,
    encoding: Encoding,
    leeway: f64,
    keys: Vec<JwtKey>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("header", &self.header)
            .field("claim", &self.claim)
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl JwtVerifier {
    /// The scheme with a key per secret; a secret that is no key, or is for an algorithm the scheme
    /// does not allow, is named by its index.
    pub fn new(
        spec: &JwtSpec,
        header: HeaderName,
        secrets: &[(Secret, Option<SystemTime>)],
    ) -> Result<Self, (usize, String)> {
        let mut keys = Vec::with_capacity(secrets.len());
        for (i, (secret, not_after)) in secrets.iter().enumerate() {
            let (key, algorithm) = JwtKey::new(secret, *not_after).map_err(|e| (i, e))?;
            if !spec.algorithms.contains(&algorithm) {
                let allowed: Vec<&str> = spec.algorithms.iter().map(|a| a.as_str()).collect();
                return Err((
                    i,
                    format!(
                        "this key is for {}, but algorithms allows only {}",
                        algorithm.as_str(),
                        allowed.join(", ")
                    ),
                ));
            }
            keys.push(key);
        }
        Ok(JwtVerifier {
            header,
            claim: spec.body_hash_claim.clone(),
            encoding: spec.body_hash_encoding,
            leeway: spec.leeway as f64,
            keys,
        })
    }

    /// How many keys the route holds, expired ones included.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    pub fn header(&self) -> &HeaderName {
        &self.header
    }

    /// The check that needs no body: the token's header is there, once.
    pub fn precheck(&self, headers: &HeaderMap) -> Result<(), Rejection> {
        self.token(headers).map(|_| ())
    }

    fn token<'h>(&self, headers: &'h HeaderMap) -> Result<&'h [u8], Rejection> {
        match single_header(headers, &self.header)? {
            None | Some(b"") => Err(Rejection::MissingSignature),
            Some(token) => Ok(token),
        }
    }

    /// Signature by any active key, then the time claims, then the body hash.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &RawBody,
        now: SystemTime,
    ) -> Result<(), Rejection> {
        let token = self.token(headers)?;
        let active: Vec<&JwtKey> = self.keys.iter().filter(|k| k.is_active(now)).collect();
        if active.is_empty() {
            return Err(Rejection::NoActiveSecret);
        }
        let claims = verified_claims(token, &active)?;
        self.check_times(&claims, now)?;
        self.check_body_hash(&claims, body)
    }

    /// The positions of the active secrets that verify this request on their own, for `hookguard
    /// explain`; never the request path.
    pub fn matching_keys(
        &self,
        headers: &HeaderMap,
        body: &RawBody,
        now: SystemTime,
    ) -> Result<Vec<usize>, Rejection> {
        let token = self.token(headers)?;
        let mut matching = Vec::new();
        for (i, key) in self.keys.iter().enumerate() {
            if !key.is_active(now) {
                continue;
            }
            let Ok(claims) = verified_claims(token, &[key]) else {
                continue;
            };
            if self.check_times(&claims, now).is_ok() && self.check_body_hash(&claims, body).is_ok()
            {
                matching.push(i);
            }
        }
        Ok(matching)
    }

    /// `exp`, `nbf` and `iat` where present, as NumericDate seconds, with the leeway either way.
    fn check_times(&self, claims: &Value, now: SystemTime) -> Result<(), Rejection> {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64());
        let seconds = |name: &str| match claims.get(name) {
            None => Ok(None),
            Some(value) => value
                .as_f64()
                .map(Some)
                .ok_or(Rejection::MalformedTimestamp),
        };
        if seconds("exp")?.is_some_and(|exp| now > exp + self.leeway) {
            return Err(Rejection::StaleTimestamp);
        }
        for name in ["nbf", "iat"] {
            if seconds(name)?.is_some_and(|at| at > now + self.leeway) {
                return Err(Rejection::FutureTimestamp);
            }
        }
        Ok(())
    }

    /// The body hash claim against the SHA-256 of the raw body, compared in constant time. A signed
    /// token without the claim covers no body, so the body would pass unsigned.
    fn check_body_hash(&self, claims: &Value, body: &RawBody) -> Result<(), Rejection> {
        let claimed = match claims.get(&self.claim) {
            None => return Err(Rejection::UnsignedBody),
            Some(Value::String(text)) => self
                .encoding
                .decode(text.as_bytes())
                .ok_or(Rejection::MalformedSignature)?,
            Some(_) => return Err(Rejection::MalformedSignature),
        };
        let mut digest = Sha256::new();
        for chunk in body.chunks() {
            digest.update(chunk);
        }
        if bool::from(digest.finalize().as_slice().ct_eq(&claimed)) {
            Ok(())
        } else {
            Err(Rejection::SignatureMismatch)
        }
    }
}

/// The claims of a token whose signature one of the keys verifies. Every key is tried, so timing
/// does not tell which one matched. A token that is no JWS at all is malformed; one that no key
/// verifies, whatever algorithm its header names, is a mismatch.
fn verified_claims(token: &[u8], keys: &[&JwtKey]) -> Result<Value, Rejection> {
    jsonwebtoken::decode_header(token).map_err(|_| Rejection::MalformedSignature)?;
    let mut claims = None;
    let mut malformed = false;
    for key in keys {
        match jsonwebtoken::decode::<Value>(token, &key.key, &key.validation) {
            Ok(data) => {
                claims.get_or_insert(data.claims);
            }
            Err(error) => {
                malformed |= !matches!(
                    error.kind(),
                    ErrorKind::InvalidSignature
                        | ErrorKind::InvalidAlgorithm
                        | ErrorKind::InvalidKeyFormat
                        | ErrorKind::InvalidEcdsaKey
                        | ErrorKind::InvalidRsaKey(_)
                );
            }
        }
    }
    match claims {
        Some(claims) if claims.is_object() => Ok(claims),
        Some(_) => Err(Rejection::MalformedSignature),
        None if malformed => Err(Rejection::MalformedSignature),
        None => Err(Rejection::SignatureMismatch),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use base64::Engine as _;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    use super::*;

    const NOW: u64 = 1_767_225_600;
    const SECRET: &str = "a-hmac-secret-of-thirty-two-bytes!";
    /// Bridge's published test key: a 2048-bit RSA public key.
    const RSA_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtqsEE4eI7EmzhcquGJXt\nLX9PMK0UH6Kl1WIR21sv8HtueG8BuvvpP3MiN7ltzmIhS8KaynCjN4l+620PnXeu\nxWG+CSnEdkinL9hCqbEid5vv9zl0j9LWiJx3FkKHqADU7cgm46aa8dKUdIQYF2X+\nO7WmyLkC4wUM/mWhBPMsIQBznashRMZxx7XJjsVp27ACUE4eNIjEXbVYN6U8jSbU\nhG++CfL8xXu+GHDqKmFE6Po6HnuURvLFVnCtE3mXXBcVFlPy+octfx8nOMLT3X8O\n9UehIigJ34o2yMm/Fq3HUJzg2BsiAiGgtr0vmeoV9Q7upSNj9TuOumAzZFi4pYA+\nqwIDAQAB\n-----END PUBLIC KEY-----\n";

    fn spec(algorithms: Vec<JwtAlgorithm>, encoding: Encoding) -> JwtSpec {
        JwtSpec {
            header: "X-Signature-JWT".into(),
            algorithms,
            body_hash_claim: "body_sha256".into(),
            body_hash_encoding: encoding,
            leeway: 60,
        }
    }

    fn verifier(spec: &JwtSpec, secrets: &[&str]) -> Result<JwtVerifier, (usize, String)> {
        let secrets: Vec<(Secret, Option<SystemTime>)> =
            secrets.iter().map(|s| (Secret::new(*s), None)).collect();
        JwtVerifier::new(spec, spec.check().expect("spec"), &secrets)
    }

    fn hs256(claims: &Value, secret: &str) -> String {
        encode(
            &Header::default(),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("token")
    }

    fn check(verifier: &JwtVerifier, token: &str, body: &[u8]) -> Result<(), Rejection> {
        let mut headers = HeaderMap::new();
        headers.insert("x-signature-jwt", token.parse().expect("value"));
        verifier.verify(
            &headers,
            &RawBody::from(body),
            UNIX_EPOCH + Duration::from_secs(NOW),
        )
    }

    fn body_hash(body: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body))
    }

    #[test]
    fn the_body_hash_and_time_claims_decide_once_the_signature_verifies() {
        let spec = spec(vec![JwtAlgorithm::Hs256], Encoding::Base64);
        let v = verifier(&spec, &["an-old-secret", SECRET]).expect("keys");
        let body = br#"{"event":"x"}"#;
        let good = json!({"body_sha256": body_hash(body), "iat": NOW, "exp": NOW + 300});
        assert_eq!(check(&v, &hs256(&good, SECRET), body), Ok(()));
        let cases = [
            (
                hs256(&good, "another"),
                &body[..],
                Rejection::SignatureMismatch,
            ),
            (hs256(&good, SECRET), b"{}", Rejection::SignatureMismatch),
            (
                hs256(
                    &json!({"body_sha256": body_hash(body), "exp": NOW - 61}),
                    SECRET,
                ),
                body,
                Rejection::StaleTimestamp,
            ),
            (
                hs256(
                    &json!({"body_sha256": body_hash(body), "nbf": NOW + 61}),
                    SECRET,
                ),
                body,
                Rejection::FutureTimestamp,
            ),
            (
                hs256(
                    &json!({"body_sha256": body_hash(body), "iat": NOW + 61}),
                    SECRET,
                ),
                body,
                Rejection::FutureTimestamp,
            ),
            (
                hs256(
                    &json!({"body_sha256": body_hash(body), "exp": "soon"}),
                    SECRET,
                ),
                body,
                Rejection::MalformedTimestamp,
            ),
            (
                hs256(&json!({"iat": NOW}), SECRET),
                body,
                Rejection::UnsignedBody,
            ),
            (
                hs256(&json!({"body_sha256": "not base64!"}), SECRET),
                body,
                Rejection::MalformedSignature,
            ),
            ("not.a.jwt".to_string(), body, Rejection::MalformedSignature),
        ];
        for (token, body, expected) in cases {
            assert_eq!(check(&v, &token, body), Err(expected), "{token}");
        }
        // Within the leeway, both ways.
        let edge = json!({"body_sha256": body_hash(body), "exp": NOW - 59, "nbf": NOW + 59});
        assert_eq!(check(&v, &hs256(&edge, SECRET), body), Ok(()));
    }

    #[test]
    fn hex_hashes_are_read_when_the_scheme_says_hex() {
        let spec = spec(vec![JwtAlgorithm::Hs256], Encoding::Hex);
        let v = verifier(&spec, &[SECRET]).expect("keys");
        let body = b"payload";
        let claims = json!({"body_sha256": hex::encode(Sha256::digest(body))});
        assert_eq!(check(&v, &hs256(&claims, SECRET), body), Ok(()));
    }

    #[test]
    fn a_token_cannot_choose_hmac_over_a_public_key() {
        // The classic confusion: HS256 keyed with the (public) PEM text of the route's RSA key.
        let spec = spec(
            vec![JwtAlgorithm::Hs256, JwtAlgorithm::Rs256],
            Encoding::Base64,
        );
        let v = verifier(&spec, &[RSA_PEM]).expect("keys");
        let body = b"{}";
        let forged = hs256(&json!({"body_sha256": body_hash(body)}), RSA_PEM);
        assert_eq!(check(&v, &forged, body), Err(Rejection::SignatureMismatch));
        let unsigned = format!(
            "{}.{}.",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(json!({"body_sha256": body_hash(body)}).to_string())
        );
        assert!(check(&v, &unsigned, body).is_err());
    }

    #[test]
    fn keys_outside_the_allowed_algorithms_or_unusable_are_refused_at_load() {
        let rs_only = spec(vec![JwtAlgorithm::Rs256], Encoding::Base64);
        assert_eq!(verifier(&rs_only, &[RSA_PEM]).map(|_| ()), Ok(()));
        let error = verifier(&rs_only, &[RSA_PEM, SECRET]).expect_err("hmac secret");
        assert_eq!(error.0, 1);
        assert!(error.1.contains("hs256"), "{}", error.1);
        let any = spec(
            vec![
                JwtAlgorithm::Hs256,
                JwtAlgorithm::Rs256,
                JwtAlgorithm::Es256,
            ],
            Encoding::Base64,
        );
        let broken_pem = &RSA_PEM[..RSA_PEM.len() / 2];
        for bad in ["", broken_pem] {
            assert!(verifier(&any, &[bad]).is_err(), "{bad:?}");
        }
        let empty = JwtSpec {
            algorithms: Vec::new(),
            ..any.clone()
        };
        assert_eq!(empty.check().map_err(|e| e.key), Err("algorithms".into()));
    }
}
