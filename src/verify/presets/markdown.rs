//! The README's preset table, rendered from the rows so the two cannot drift apart.

use http::Method;

use super::{all, Spec};
use crate::verify::handshake::Handshake;
use crate::verify::jwt::JwtSpec;
use crate::verify::keys::KeyFormat;
use crate::verify::scheme::{Algorithm, Prehash, SignatureFormat, TimeUnit, TimestampSource};
use crate::verify::spec::SchemeSpec;
use crate::verify::Field;

/// The README's preset table, generated from the rows so the two cannot drift apart.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| preset | signature | signed content | timestamp, tolerance | event type; delivery id | methods | handshake |\n|---|---|---|---|---|---|---|\n",
    );
    for preset in all() {
        let methods: Vec<&str> = preset.methods.iter().map(Method::as_str).collect();
        let handshake = match preset.handshake {
            Handshake::None => "",
            Handshake::DropboxChallenge => "GET `?challenge=` echoed",
            Handshake::TwitterCrc => "GET `?crc_token=` answered",
            Handshake::ZoomUrlValidation => "`endpoint.url_validation` answered",
            Handshake::HubChallenge => {
                "GET `hub.challenge` echoed when `hub.verify_token` is the route's `verify_token`"
            }
            Handshake::OktaVerification => {
                "GET `X-Okta-Verification-Challenge` answered once the token verifies"
            }
            Handshake::LinkedInChallenge => "GET `?challengeCode=` answered with its HMAC",
            Handshake::TwitchVerification => "signed `webhook_callback_verification` answered",
            Handshake::WorldlineVerification => "GET `X-GCS-Webhooks-Endpoint-Verification` echoed",
            Handshake::Ping {
                get: true,
                head: true,
            } => "GET and HEAD answered 200",
            Handshake::Ping {
                get: true,
                head: false,
            } => "GET answered 200",
            Handshake::Ping {
                get: false,
                head: true,
            } => "HEAD answered 200",
            Handshake::Ping {
                get: false,
                head: false,
            } => "",
        };
        let (signature, content, timestamp) = match &preset.spec {
            Spec::HeaderToken(name) => (
                format!("`{name}`: the token itself"),
                "none".to_string(),
                String::new(),
            ),
            Spec::QueryToken(param) => (
                format!("`?{param}=`: the token itself, removed before forwarding"),
                "none".to_string(),
                String::new(),
            ),
            Spec::BasicAuth => (
                "`Authorization: Basic`: `user:pass` compared whole".to_string(),
                "none".to_string(),
                String::new(),
            ),
            Spec::Signature(spec) => describe(spec),
            Spec::Jwt(spec) => describe_jwt(spec),
            Spec::AwsSns => (
                "body `Signature`: base64 RSA PKCS#1 v1.5, SHA-1 (`SignatureVersion` 1) or SHA-256 (2); certificate from `SigningCertURL` on `cert_url_pattern`".to_string(),
                "SNS's `Key\\nValue\\n` list of the signed fields".to_string(),
                "none".to_string(),
            ),
        };
        let fields = format!(
            "{}; {}",
            describe_field(preset.event, &preset.spec),
            describe_field(preset.delivery_id, &preset.spec)
        );
        out.push_str(&format!(
            "| `{}` | {signature} | {content} | {timestamp} | {fields} | {} | {handshake} |\n",
            preset.name,
            methods.join(", ")
        ));
    }
    out
}

/// Where a field is read, and whether the signature covers it: an unsigned value can be changed by
/// whoever replays a captured delivery, so the table says so wherever a decision could rest on one.
fn describe_field(field: Option<Field>, spec: &Spec) -> String {
    let signed = |field: Field| match (field, spec) {
        (_, Spec::HeaderToken(_) | Spec::QueryToken(_) | Spec::BasicAuth) => false,
        // The JWT's claim covers the body, and nothing else of the request.
        (Field::Json(_), Spec::Jwt(_)) => true,
        (Field::Header(_), Spec::Jwt(_)) => false,
        // The preset reads only `Type` and `MessageId`, both in SNS's signed list.
        (Field::Json(_), Spec::AwsSns) => true,
        (Field::Header(_), Spec::AwsSns) => false,
        // Twilio's form fields are signed, and a JSON body is covered by `bodySHA256`.
        (Field::Json(_), Spec::Signature(spec)) => {
            spec.template.contains("{body}") || spec.body_sha256_param.is_some()
        }
        (Field::Header(name), Spec::Signature(spec)) => {
            spec.template.contains("{id}")
                && spec.header_sets.iter().any(|set| {
                    set.id
                        .as_ref()
                        .is_some_and(|id| id.eq_ignore_ascii_case(name))
                })
        }
    };
    match field {
        None => "—".to_string(),
        Some(field) => {
            let place = match field {
                Field::Header(name) => format!("`{name}`"),
                Field::Json(pointer) => format!("body `{pointer}`"),
            };
            if signed(field) {
                place
            } else {
                format!("{place} (unsigned)")
            }
        }
    }
}

fn describe(spec: &SchemeSpec) -> (String, String, String) {
    let names: Vec<String> = spec
        .header_sets
        .iter()
        .take(1)
        .flat_map(|set| set.signatures.iter().map(|n| format!("`{n}`")))
        .collect();
    let encoding = match spec.algorithm {
        Algorithm::Ed25519 => format!("{} Ed25519", spec.encoding.as_str()),
        Algorithm::EcdsaP256Sha256 => "base64 ECDSA P-256".to_string(),
        Algorithm::HmacSha1
        | Algorithm::HmacSha256
        | Algorithm::HmacSha512
        | Algorithm::RsaPkcs1Sha256
        | Algorithm::RsaPkcs1Sha512
        | Algorithm::RsaPkcs1Sha1
        | Algorithm::RsaPssSha256 => {
            format!(
                "{} {}",
                spec.encoding.as_str(),
                spec.algorithm.as_str().to_ascii_uppercase()
            )
        }
    };
    let signature = match &spec.signature_in_body {
        Some(pointer) => format!("body `{pointer}`: {encoding}"),
        None => format!(
            "{}: {encoding}{}",
            names.join(", "),
            describe_shape(&spec.format)
        ),
    };
    let key = match spec.key_format {
        KeyFormat::Whsec => "; `whsec_` key",
        KeyFormat::Hex => "; hex public key",
        KeyFormat::Base64Der => match spec.algorithm {
            Algorithm::EcdsaP256Sha256 => "; base64 DER public key",
            Algorithm::Ed25519 => "; base64 public key",
            _ => "; base64 key",
        },
        KeyFormat::Pem => "; PEM RSA public key",
        KeyFormat::Raw => "",
    };
    let digest = match spec.prehash {
        Some(Prehash::Sha256) => " (its SHA-256 signed)",
        None => "",
    };
    // A `|` (Telnyx's `{timestamp}|{body}`) or a line break inside a table cell would end the
    // cell or the row: written as `\|` and `\n`.
    let content = format!(
        "`{}`{digest}{key}",
        spec.template.replace('|', "\\|").replace('\n', "\\n")
    );
    (signature, content, describe_timestamp(spec))
}

fn describe_jwt(spec: &JwtSpec) -> (String, String, String) {
    let algorithms: Vec<String> = spec
        .algorithms
        .iter()
        .map(|a| a.as_str().to_ascii_uppercase())
        .collect();
    (
        format!("`{}`: a JWT ({})", spec.header, algorithms.join(", ")),
        format!(
            "claim `{}` = {} SHA-256 of `{{body}}`; PEM public key or HMAC secret",
            spec.body_hash_claim,
            spec.body_hash_encoding.as_str()
        ),
        format!("`exp`, `nbf`, `iat` if present, ±{} s", spec.leeway),
    )
}

fn describe_shape(format: &SignatureFormat) -> String {
    let first = |list: &[String]| list.first().cloned().unwrap_or_default();
    match format {
        SignatureFormat::Whole { prefixes } => match prefixes.as_slice() {
            [] => String::new(),
            [only] if only.is_empty() => String::new(),
            [first, rest @ ..] if rest.iter().any(String::is_empty) => {
                format!(" `{first}…` or bare")
            }
            [first, ..] => format!(" `{first}…`"),
        },
        SignatureFormat::List {
            separator,
            prefixes,
        } => {
            let separator = if *separator == ' ' { "space" } else { "comma" };
            match first(prefixes).as_str() {
                "" => format!(" list ({separator})"),
                prefix => format!(" `{prefix}…` list ({separator})"),
            }
        }
        SignatureFormat::Fields {
            separator,
            signature_keys,
            timestamp_key,
            set_separator,
        } => {
            let fields = format!(
                " `{}=…{separator}{}=…`",
                timestamp_key.as_deref().unwrap_or("t"),
                signature_keys.first().map_or("v1", String::as_str)
            );
            match set_separator {
                Some(' ') => format!("{fields} sets (space)"),
                Some(between) => format!("{fields} sets (`{between}`)"),
                None => fields,
            }
        }
        SignatureFormat::TimestampFirst { separator } => {
            format!(" `<timestamp>{separator}<signature>{separator}…`")
        }
    }
}

fn describe_timestamp(spec: &SchemeSpec) -> String {
    let Some(t) = &spec.timestamp else {
        return "none".to_string();
    };
    let source = match &t.source {
        TimestampSource::Header => spec
            .header_sets
            .first()
            .and_then(|h| h.timestamp.as_ref())
            .map_or(String::new(), |h| format!("`{h}`")),
        TimestampSource::SignatureField => "in the signature header".to_string(),
        TimestampSource::Json(pointer) => format!("body `{pointer}`"),
    };
    let unit = match t.unit {
        TimeUnit::Seconds => "s",
        TimeUnit::Millis => "ms",
        TimeUnit::Rfc3339 => "RFC 3339",
    };
    let window = match (t.tolerance, t.reject_future) {
        (None, _) => "not bounded".to_string(),
        (Some(s), true) => format!("±{s} s"),
        (Some(s), false) => format!("{s} s, old only"),
    };
    format!("{source} ({unit}), {window}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_in_a_template_stays_inside_its_cell_and_keys_are_named_by_what_they_are() {
        let table = markdown_table();
        let row = |name: &str| {
            table
                .lines()
                .find(|line| line.starts_with(&format!("| `{name}` |")))
                .unwrap_or_else(|| panic!("no row for {name}"))
                .to_string()
        };
        let telnyx = row("telnyx");
        assert!(
            telnyx.contains(r"`{timestamp}\|{body}`; base64 public key"),
            "{telnyx}"
        );
        assert!(telnyx.contains("base64 Ed25519"), "{telnyx}");
        // Every row has the table's seven cells once escaped pipes are set aside.
        assert_eq!(
            telnyx.replace(r"\|", "").matches('|').count(),
            8,
            "{telnyx}"
        );
        assert!(row("microsoft-teams").contains("; base64 key |"));
        assert!(row("sendgrid").contains("; base64 DER public key"));
        assert!(row("discord").contains("hex Ed25519"));
    }
}
