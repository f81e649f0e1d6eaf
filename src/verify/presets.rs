//! Provider presets as data: each names a scheme and its parameters, so adding a sender is a table row.

use http::header::InvalidHeaderName;
use http::{HeaderName, Method};

use super::{Algorithm, Encoding, HmacScheme};

/// A provider that signs with one HMAC header over the raw body.
#[derive(Debug)]
pub struct Preset {
    pub name: &'static str,
    pub description: &'static str,
    /// Where the scheme is documented, so each row can be checked against its source.
    pub source: &'static str,
    pub header: &'static str,
    pub algorithm: Algorithm,
    pub encoding: Encoding,
    pub prefixes: &'static [&'static str],
    pub methods: &'static [Method],
}

impl Preset {
    /// The preset's scheme. `header` is the provider's own spelling, which `from_bytes` lower-cases;
    /// the unit tests prove every preset's name valid, so the error arm is never taken in practice.
    pub fn scheme(&self) -> Result<HmacScheme, InvalidHeaderName> {
        Ok(HmacScheme {
            header: HeaderName::from_bytes(self.header.as_bytes())?,
            algorithm: self.algorithm,
            encoding: self.encoding,
            prefixes: self.prefixes.iter().map(|p| p.to_string()).collect(),
        })
    }
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "drivewidget",
        description: "DriveWidget: X-DriveWidget-Signature: sha256=<hex HMAC-SHA256 of the body>",
        // DriveWidget's webhook guide, "Verifying authenticity" (shared/seeds/000).
        source: "DriveWidget docs: Webhooks, Verifying authenticity",
        header: "X-DriveWidget-Signature",
        algorithm: Algorithm::Sha256,
        encoding: Encoding::Hex,
        prefixes: &["sha256="],
        methods: &[Method::POST],
    },
    Preset {
        name: "x-signature",
        description:
            "Form widget: X-Signature: <hex HMAC-SHA256 of the body>, sha256= prefix also accepted",
        // The form widget's "Webhook Integration" guide, "Signature Validation" (shared/seeds/002); its
        // format line is cut, so the common `sha256=` prefix is accepted as well as bare hex.
        source: "Form widget docs: Webhook Integration, Signature Validation",
        header: "X-Signature",
        algorithm: Algorithm::Sha256,
        encoding: Encoding::Hex,
        prefixes: &["sha256=", ""],
        methods: &[Method::POST],
    },
    Preset {
        name: "filedgr",
        description: "Filedgr: X-Filedgr-Signature: <hex HMAC-SHA256 of the body>",
        // Filedgr's webhook docs, "Webhook Security: Signature Verification" (shared/seeds/004).
        source: "Filedgr docs: Webhooks, Signature Verification",
        header: "X-Filedgr-Signature",
        algorithm: Algorithm::Sha256,
        encoding: Encoding::Hex,
        prefixes: &[],
        methods: &[Method::POST],
    },
    Preset {
        name: "uploadcare",
        description: "Uploadcare: X-Uc-Signature: v1=<hex HMAC-SHA256 of the body>",
        // Uploadcare's REST API reference, "Webhooks: Signed webhooks" (shared/seeds/003).
        source: "Uploadcare REST API docs: Signed webhooks",
        header: "X-Uc-Signature",
        algorithm: Algorithm::Sha256,
        encoding: Encoding::Hex,
        prefixes: &["v1="],
        methods: &[Method::POST],
    },
];

pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|preset| preset.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{HmacVerifier, Rejection, Secret};
    use http::HeaderMap;

    /// Each preset's header, checked against a MAC computed independently with `openssl dgst`:
    /// printf '%s' '{"event":"file.uploaded"}' | openssl dgst -sha256 -hmac 'preset-test-secret'
    const BODY: &[u8] = br#"{"event":"file.uploaded"}"#;
    const MAC: &str = "a6fb29cc69225f0e007ea851daa1c25c51a12c1f28319540b680e25f6b373f37";

    #[test]
    fn names_are_unique_and_headers_valid() {
        for (i, preset) in PRESETS.iter().enumerate() {
            assert!(PRESETS[i + 1..]
                .iter()
                .all(|other| other.name != preset.name));
            assert!(preset.scheme().is_ok(), "{}", preset.name);
            assert!(find(preset.name).is_some());
        }
        assert!(find("nope").is_none());
    }

    #[test]
    fn known_answer_for_each_preset() {
        let secret = Secret::new("preset-test-secret");
        let expected = [
            ("drivewidget", format!("sha256={MAC}")),
            ("x-signature", format!("sha256={MAC}")),
            ("filedgr", MAC.to_string()),
            ("uploadcare", format!("v1={MAC}")),
        ];
        for (name, value) in expected {
            let preset = find(name).expect("preset exists");
            let (header, signed) =
                HmacVerifier::sign(&preset.scheme().expect("scheme"), &secret, BODY)
                    .expect("hmac key");
            assert_eq!(signed, value, "{name}");
            let mut headers = HeaderMap::new();
            headers.insert(header, value.parse().expect("header value"));
            let verifier = HmacVerifier::new(
                preset.scheme().expect("scheme"),
                std::slice::from_ref(&secret),
            )
            .expect("hmac key");
            assert_eq!(verifier.verify(&headers, BODY), Ok(()), "{name}");
            assert_eq!(
                verifier.verify(&headers, b"{}"),
                Err(Rejection::SignatureMismatch),
                "{name}"
            );
        }
    }
}
