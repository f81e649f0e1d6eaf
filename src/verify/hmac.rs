//! The generic HMAC scheme: one header carrying an optionally prefixed hex or base64 MAC of the raw body.

use base64::Engine as _;
use hmac::digest::InvalidLength;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::{Choice, ConstantTimeEq};

use super::{Rejection, Secret};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "sha1" => Some(Algorithm::Sha1),
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn output_len(self) -> usize {
        match self {
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
}

impl Encoding {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "hex" => Some(Encoding::Hex),
            "base64" => Some(Encoding::Base64),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Hex => "hex",
            Encoding::Base64 => "base64",
        }
    }

    fn decode(self, text: &[u8]) -> Option<Vec<u8>> {
        match self {
            // The hex crate accepts either case, as senders differ.
            Encoding::Hex => hex::decode(text).ok(),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.decode(text).ok(),
        }
    }

    fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode(bytes),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }
}

/// Where the signature is and how it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacScheme {
    pub header: HeaderName,
    pub algorithm: Algorithm,
    pub encoding: Encoding,
    /// Accepted prefixes, tried in order; `""` among them means a bare MAC is accepted too. The first
    /// is the one `sign` writes.
    pub prefixes: Vec<String>,
}

/// A keyed MAC state built once per secret. Cloning it skips re-deriving the HMAC pads per request.
#[derive(Clone)]
enum PreparedKey {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

impl PreparedKey {
    fn new(algorithm: Algorithm, secret: &Secret) -> Result<Self, InvalidLength> {
        let key = secret.expose();
        Ok(match algorithm {
            Algorithm::Sha1 => PreparedKey::Sha1(Hmac::new_from_slice(key)?),
            Algorithm::Sha256 => PreparedKey::Sha256(Hmac::new_from_slice(key)?),
            Algorithm::Sha512 => PreparedKey::Sha512(Hmac::new_from_slice(key)?),
        })
    }

    fn tag(&self, body: &[u8]) -> Vec<u8> {
        fn run<M: Mac + Clone>(mac: &M, body: &[u8]) -> Vec<u8> {
            let mut mac = mac.clone();
            mac.update(body);
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            PreparedKey::Sha1(mac) => run(mac, body),
            PreparedKey::Sha256(mac) => run(mac, body),
            PreparedKey::Sha512(mac) => run(mac, body),
        }
    }

    /// Constant-time comparison of the body's MAC with a candidate of the right length.
    fn matches(&self, body: &[u8], candidate: &[u8]) -> Choice {
        self.tag(body).as_slice().ct_eq(candidate)
    }
}

pub struct HmacVerifier {
    scheme: HmacScheme,
    keys: Vec<PreparedKey>,
}

impl std::fmt::Debug for HmacVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HmacVerifier")
            .field("scheme", &self.scheme)
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl HmacVerifier {
    /// HMAC accepts keys of any length, so the error is only there because the trait can fail.
    pub fn new(scheme: HmacScheme, secrets: &[Secret]) -> Result<Self, InvalidLength> {
        let keys = secrets
            .iter()
            .map(|secret| PreparedKey::new(scheme.algorithm, secret))
            .collect::<Result<_, _>>()?;
        Ok(HmacVerifier { scheme, keys })
    }

    pub fn scheme(&self) -> &HmacScheme {
        &self.scheme
    }

    /// The one signature header's value. Two copies are refused: a proxy in between could pick
    /// either, so neither can be trusted to be the one the sender meant.
    pub fn signature_value<'h>(&self, headers: &'h HeaderMap) -> Result<&'h [u8], Rejection> {
        let mut values = headers.get_all(&self.scheme.header).iter();
        let value = values.next().ok_or(Rejection::MissingSignature)?;
        if values.next().is_some() {
            return Err(Rejection::DuplicatedSignature);
        }
        if value.is_empty() {
            return Err(Rejection::MissingSignature);
        }
        Ok(value.as_bytes())
    }

    /// The decoded MAC, once prefix, encoding and length all check out.
    fn decode_signature(&self, value: &[u8]) -> Result<Vec<u8>, Rejection> {
        let encoded = if self.scheme.prefixes.is_empty() {
            value
        } else {
            self.scheme
                .prefixes
                .iter()
                .find_map(|prefix| value.strip_prefix(prefix.as_bytes()))
                .ok_or(Rejection::MalformedSignature)?
        };
        let mac = self
            .scheme
            .encoding
            .decode(encoded)
            .ok_or(Rejection::MalformedSignature)?;
        if mac.len() != self.scheme.algorithm.output_len() {
            return Err(Rejection::MalformedSignature);
        }
        Ok(mac)
    }

    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejection> {
        let candidate = self.decode_signature(self.signature_value(headers)?)?;
        // Every key is tried, so the time taken does not say which one matched.
        let matched = self.keys.iter().fold(Choice::from(0), |any, key| {
            any | key.matches(body, &candidate)
        });
        if bool::from(matched) {
            Ok(())
        } else {
            Err(Rejection::SignatureMismatch)
        }
    }

    /// The header a sender using this scheme and secret would attach to `body`.
    pub fn sign(
        scheme: &HmacScheme,
        secret: &Secret,
        body: &[u8],
    ) -> Result<(HeaderName, String), InvalidLength> {
        let tag = PreparedKey::new(scheme.algorithm, secret)?.tag(body);
        let prefix = scheme.prefixes.first().map(String::as_str).unwrap_or("");
        Ok((
            scheme.header.clone(),
            format!("{prefix}{}", scheme.encoding.encode(&tag)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheme(prefixes: &[&str], algorithm: Algorithm, encoding: Encoding) -> HmacScheme {
        HmacScheme {
            header: HeaderName::from_static("x-sig"),
            algorithm,
            encoding,
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append("x-sig", value.parse().expect("test header value"));
        }
        map
    }

    // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    const RFC4231_KEY: &[u8] = b"Jefe";
    const RFC4231_DATA: &[u8] = b"what do ya want for nothing?";
    const RFC4231_SHA256: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    const RFC4231_SHA512: &str = "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737";
    // RFC 2202 test case 2, same key and data.
    const RFC2202_SHA1: &str = "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79";

    #[test]
    fn known_answers_for_each_algorithm() {
        let secret = Secret::new(RFC4231_KEY);
        for (algorithm, expected) in [
            (Algorithm::Sha1, RFC2202_SHA1),
            (Algorithm::Sha256, RFC4231_SHA256),
            (Algorithm::Sha512, RFC4231_SHA512),
        ] {
            let scheme = scheme(&[], algorithm, Encoding::Hex);
            let (_, value) = HmacVerifier::sign(&scheme, &secret, RFC4231_DATA).expect("hmac key");
            assert_eq!(value, expected, "{algorithm:?}");
            let verifier =
                HmacVerifier::new(scheme, std::slice::from_ref(&secret)).expect("hmac key");
            assert_eq!(verifier.verify(&headers(&[expected]), RFC4231_DATA), Ok(()));
        }
    }

    #[test]
    fn hex_is_case_insensitive() {
        let verifier = HmacVerifier::new(
            scheme(&["sha256="], Algorithm::Sha256, Encoding::Hex),
            &[Secret::new(RFC4231_KEY)],
        )
        .expect("hmac key");
        let upper = format!("sha256={}", RFC4231_SHA256.to_uppercase());
        assert_eq!(verifier.verify(&headers(&[&upper]), RFC4231_DATA), Ok(()));
    }

    #[test]
    fn base64_encoding() {
        let scheme = scheme(&[], Algorithm::Sha256, Encoding::Base64);
        let tag = hex::decode(RFC4231_SHA256).expect("hex constant");
        let value = base64::engine::general_purpose::STANDARD.encode(tag);
        let verifier = HmacVerifier::new(scheme, &[Secret::new(RFC4231_KEY)]).expect("hmac key");
        assert_eq!(verifier.verify(&headers(&[&value]), RFC4231_DATA), Ok(()));
        assert_eq!(
            verifier.verify(&headers(&[RFC4231_SHA256]), RFC4231_DATA),
            Err(Rejection::MalformedSignature)
        );
    }

    #[test]
    fn optional_prefix_accepts_both_forms_but_not_another_prefix() {
        let verifier = HmacVerifier::new(
            scheme(&["sha256=", ""], Algorithm::Sha256, Encoding::Hex),
            &[Secret::new(RFC4231_KEY)],
        )
        .expect("hmac key");
        let prefixed = format!("sha256={RFC4231_SHA256}");
        assert_eq!(
            verifier.verify(&headers(&[&prefixed]), RFC4231_DATA),
            Ok(())
        );
        assert_eq!(
            verifier.verify(&headers(&[RFC4231_SHA256]), RFC4231_DATA),
            Ok(())
        );
        let other = format!("sha512={RFC4231_SHA256}");
        assert_eq!(
            verifier.verify(&headers(&[&other]), RFC4231_DATA),
            Err(Rejection::MalformedSignature)
        );
    }

    #[test]
    fn every_rejection_path() {
        let verifier = HmacVerifier::new(
            scheme(&["sha256="], Algorithm::Sha256, Encoding::Hex),
            &[Secret::new(RFC4231_KEY)],
        )
        .expect("hmac key");
        let good = format!("sha256={RFC4231_SHA256}");
        let cases: Vec<(Vec<String>, &[u8], Rejection)> = vec![
            (vec![], RFC4231_DATA, Rejection::MissingSignature),
            (
                vec![String::new()],
                RFC4231_DATA,
                Rejection::MissingSignature,
            ),
            (
                vec![good.clone(), good.clone()],
                RFC4231_DATA,
                Rejection::DuplicatedSignature,
            ),
            (
                vec![RFC4231_SHA256.to_string()],
                RFC4231_DATA,
                Rejection::MalformedSignature,
            ),
            (
                vec!["sha256=".to_string()],
                RFC4231_DATA,
                Rejection::MalformedSignature,
            ),
            (
                vec![format!("sha256={}", &RFC4231_SHA256[..62])],
                RFC4231_DATA,
                Rejection::MalformedSignature,
            ),
            (
                vec![format!("{good}00")],
                RFC4231_DATA,
                Rejection::MalformedSignature,
            ),
            (
                vec![format!("sha256={}", "zz".repeat(32))],
                RFC4231_DATA,
                Rejection::MalformedSignature,
            ),
            (
                vec![format!("sha256={RFC2202_SHA1}")],
                RFC4231_DATA,
                Rejection::MalformedSignature,
            ),
            (
                vec![good.clone()],
                b"what do ya want for nothing!",
                Rejection::SignatureMismatch,
            ),
            (
                vec![format!("sha256={}", "00".repeat(32))],
                RFC4231_DATA,
                Rejection::SignatureMismatch,
            ),
        ];
        for (values, body, expected) in cases {
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            assert_eq!(
                verifier.verify(&headers(&refs), body),
                Err(expected),
                "{values:?}"
            );
        }
    }

    #[test]
    fn any_of_several_secrets_matches_and_none_is_a_mismatch() {
        let scheme = scheme(&[], Algorithm::Sha256, Encoding::Hex);
        let rotated = HmacVerifier::new(
            scheme.clone(),
            &[Secret::new("new-secret"), Secret::new(RFC4231_KEY)],
        )
        .expect("hmac key");
        assert_eq!(
            rotated.verify(&headers(&[RFC4231_SHA256]), RFC4231_DATA),
            Ok(())
        );
        let wrong = HmacVerifier::new(scheme, &[Secret::new("new-secret")]).expect("hmac key");
        assert_eq!(
            wrong.verify(&headers(&[RFC4231_SHA256]), RFC4231_DATA),
            Err(Rejection::SignatureMismatch)
        );
    }

    #[test]
    fn debug_output_hides_keys() {
        let verifier = HmacVerifier::new(
            scheme(&[], Algorithm::Sha256, Encoding::Hex),
            &[Secret::new("do-not-print-me")],
        )
        .expect("hmac key");
        let text = format!("{verifier:?} {:?}", Secret::new("do-not-print-me"));
        assert!(!text.contains("do-not-print-me"), "{text}");
    }
}
