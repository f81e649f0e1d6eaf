//! The one description of a signature scheme: what a preset row is written in and what
//! `verify: {scheme: ...}` deserialises into, the one converter from it to the runtime [`Scheme`], and
//! the YAML block `hookguard providers --yaml NAME` prints (in `yaml`; the tests in `tests`).

#[cfg(test)]
mod tests;
mod yaml;

use std::time::Duration;

use http::HeaderName;
use serde::{Deserialize, Serialize};

use super::keys::KeyFormat;
use super::scheme::{
    Algorithm, Encoding, HeaderSet, Part, Prehash, Scheme, SignatureFormat, Template, TimeUnit,
    TimestampRule, TimestampSource,
};

pub use self::yaml::verify_yaml;

/// A signature scheme as written: every field a preset can set, YAML can set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemeSpec {
    pub algorithm: Algorithm,
    pub encoding: Encoding,
    pub key_format: KeyFormat,
    /// The first set whose signature header is present is used (Svix's `svix-*`, then `webhook-*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub header_sets: Vec<HeaderSetSpec>,
    /// A JSON pointer to a signature carried in the body (Mailgun) instead of a header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_in_body: Option<String>,
    #[serde(default = "bare_signature")]
    pub format: SignatureFormat,
    /// The signed content, such as `{timestamp}.{body}`.
    pub template: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<TimestampSpec>,
    /// Twilio: the query parameter carrying the hex SHA-256 of a body the template does not cover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_sha256_param: Option<String>,
    /// `sha256`: the sender signs the SHA-256 digest of the signed content (Bridge), not the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prehash: Option<Prehash>,
}

/// One set of header names a delivery uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderSetSpec {
    pub signatures: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The header `{nonce}` signs (Plivo's `X-Plivo-Signature-V3-Nonce`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The header listing the headers `{signed_headers}` signs (Contentful).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_headers: Option<String>,
}

/// Where the timestamp is, how it is written and how fresh it must be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestampSpec {
    /// `header`, `signature_field` or a JSON pointer such as `/webhookTimestamp`.
    #[serde(with = "source_text")]
    pub source: TimestampSource,
    pub unit: TimeUnit,
    /// Seconds, or `none`: signed, but the sender sets no window. Required, so that leaving a window
    /// out is a decision rather than an oversight.
    #[serde(with = "tolerance_text")]
    pub tolerance: Option<u64>,
    /// Most senders are checked both ways; Stripe and HubSpot only refuse old timestamps.
    #[serde(default = "yes")]
    pub reject_future: bool,
}

fn bare_signature() -> SignatureFormat {
    SignatureFormat::Whole {
        prefixes: Vec::new(),
    }
}

fn yes() -> bool {
    true
}

/// The timestamp source as one word or a JSON pointer, so YAML reads `source: header`.
mod source_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::verify::scheme::TimestampSource;

    pub fn serialize<S: Serializer>(source: &TimestampSource, out: S) -> Result<S::Ok, S::Error> {
        out.serialize_str(match source {
            TimestampSource::Header => "header",
            TimestampSource::SignatureField => "signature_field",
            TimestampSource::Json(pointer) => pointer,
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<TimestampSource, D::Error> {
        let text = String::deserialize(input)?;
        match text.as_str() {
            "header" => Ok(TimestampSource::Header),
            "signature_field" => Ok(TimestampSource::SignatureField),
            pointer if pointer.starts_with('/') => Ok(TimestampSource::Json(text)),
            other => Err(serde::de::Error::custom(format!(
                "timestamp source {other:?} is not one of header, signature_field or a JSON pointer (/...)"
            ))),
        }
    }
}

/// A tolerance in seconds, or the word `none`.
mod tolerance_text {
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Seconds(u64),
        Word(String),
    }

    pub fn serialize<S: Serializer>(tolerance: &Option<u64>, out: S) -> Result<S::Ok, S::Error> {
        match tolerance {
            Some(seconds) => out.serialize_u64(*seconds),
            None => out.serialize_str("none"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Option<u64>, D::Error> {
        match Written::deserialize(input)? {
            Written::Seconds(seconds) => Ok(Some(seconds)),
            Written::Word(word) if word == "none" => Ok(None),
            Written::Word(word) => Err(serde::de::Error::custom(format!(
                "tolerance {word:?} is neither seconds nor `none`"
            ))),
        }
    }
}

/// What is wrong with a description: the key (relative to the description) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

fn refuse<T>(key: impl Into<String>, message: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError {
        key: key.into(),
        message: message.into(),
    })
}

fn header_name(key: String, text: &str) -> Result<HeaderName, SpecError> {
    HeaderName::from_bytes(text.as_bytes())
        .or_else(|_| refuse(key, format!("{text:?} is not a valid header name")))
}

impl SchemeSpec {
    /// The runtime scheme this description means, for presets and YAML alike. Anything a request
    /// could never satisfy, or that would leave a part unsigned or unread, is refused here.
    pub fn scheme(&self) -> Result<Scheme, SpecError> {
        let template =
            Template::parse(&self.template).or_else(|e| refuse("template", e.to_string()))?;
        let header_sets = self.header_sets()?;
        self.check_key_format()?;
        self.check_format()?;
        self.check_headers_used(&template)?;
        let timestamp = self.timestamp_rule(&template)?;
        if self.body_sha256_param.as_deref() == Some("") {
            return refuse("body_sha256_param", "must not be empty");
        }
        self.check_body_covered(&template)?;
        Ok(Scheme {
            algorithm: self.algorithm,
            encoding: self.encoding,
            header_sets,
            signature_in_body: self.signature_in_body.clone(),
            format: self.format.clone(),
            template,
            timestamp,
            body_sha256_param: self.body_sha256_param.clone(),
            prehash: self.prehash,
        })
    }

    fn header_sets(&self) -> Result<Vec<HeaderSet>, SpecError> {
        match &self.signature_in_body {
            None if self.header_sets.is_empty() => {
                return refuse("header_sets", "give at least one, or signature_in_body")
            }
            Some(pointer) if !pointer.starts_with('/') => {
                return refuse(
                    "signature_in_body",
                    format!("{pointer:?} is not a JSON pointer (/...)"),
                )
            }
            _ => {}
        }
        let mut sets = Vec::with_capacity(self.header_sets.len());
        for (i, set) in self.header_sets.iter().enumerate() {
            let at = |field: &str| format!("header_sets[{i}].{field}");
            if set.signatures.is_empty() && self.signature_in_body.is_none() {
                return refuse(at("signatures"), "name at least one signature header");
            }
            let optional = |field: &str, name: &Option<String>| {
                name.as_deref()
                    .map(|n| header_name(at(field), n))
                    .transpose()
            };
            let signatures = set
                .signatures
                .iter()
                .enumerate()
                .map(|(j, name)| header_name(at(&format!("signatures[{j}]")), name))
                .collect::<Result<_, _>>()?;
            sets.push(HeaderSet {
                signatures,
                timestamp: optional("timestamp", &set.timestamp)?,
                id: optional("id", &set.id)?,
                nonce: optional("nonce", &set.nonce)?,
                signed_headers: optional("signed_headers", &set.signed_headers)?,
            });
        }
        Ok(sets)
    }

    /// A public key is never a raw string or a `whsec_` secret, an RSA key is always PEM and PEM
    /// is for RSA keys only; any other pairing is a mistake.
    fn check_key_format(&self) -> Result<(), SpecError> {
        let (rsa, pem) = (self.algorithm.is_rsa(), self.key_format == KeyFormat::Pem);
        if rsa != pem {
            return refuse(
                "key_format",
                "rsa-* algorithms take pem keys, and pem keys are for rsa-* algorithms",
            );
        }
        let public_key = !self.algorithm.is_hmac();
        if public_key
            && !matches!(
                self.key_format,
                KeyFormat::Hex | KeyFormat::Base64Der | KeyFormat::Pem
            )
        {
            return refuse(
                "key_format",
                format!("{} keys are hex or base64", self.algorithm.as_str()),
            );
        }
        Ok(())
    }

    fn check_format(&self) -> Result<(), SpecError> {
        let empty = |list: &[String]| list.is_empty() || list.iter().any(String::is_empty);
        let separator = match &self.format {
            SignatureFormat::List { separator, .. }
            | SignatureFormat::Fields { separator, .. }
            | SignatureFormat::TimestampFirst { separator } => Some(*separator),
            SignatureFormat::Whole { .. } => None,
        };
        // Values are split byte by byte, and `=` joins a field's key to its value.
        let unsplittable = |c: char| !c.is_ascii() || c == '=';
        if separator.is_some_and(unsplittable) {
            return refuse(
                "format.separator",
                "must be one ASCII character other than `=`",
            );
        }
        if let SignatureFormat::Fields {
            set_separator: Some(between),
            ..
        } = &self.format
        {
            if unsplittable(*between) || Some(*between) == separator {
                return refuse(
                    "format.set_separator",
                    "must be one ASCII character other than `=` and the field separator",
                );
            }
        }
        match &self.format {
            SignatureFormat::Whole { prefixes }
                if self.signature_in_body.is_some() && !prefixes.is_empty() =>
            {
                refuse(
                    "format.prefixes",
                    "a signature in the body is taken whole, without prefixes",
                )
            }
            SignatureFormat::Whole { .. } => Ok(()),
            _ if self.signature_in_body.is_some() => refuse(
                "format",
                "a signature in the body is taken whole: style whole",
            ),
            // A lone "" says every item is a signature; beside other prefixes it would hide them.
            SignatureFormat::List { prefixes, .. }
                if empty(prefixes) && prefixes.as_slice() != [String::new()] =>
            {
                refuse(
                    "format.prefixes",
                    "list the version prefixes that mark a signature, none empty, or only \"\" for bare items",
                )
            }
            SignatureFormat::List { .. } | SignatureFormat::TimestampFirst { .. } => Ok(()),
            SignatureFormat::Fields {
                signature_keys,
                timestamp_key,
                ..
            } => {
                if empty(signature_keys) {
                    return refuse(
                        "format.signature_keys",
                        "name the signature field(s), none empty",
                    );
                }
                if timestamp_key
                    .as_ref()
                    .is_some_and(|t| t.is_empty() || signature_keys.contains(t))
                {
                    return refuse(
                        "format.timestamp_key",
                        "must be non-empty and not a signature key",
                    );
                }
                Ok(())
            }
        }
    }

    /// `{form_params}` signs the fields of a form body only: any other body (JSON, say) would pass
    /// unsigned, unless `{body}` or a `body_sha256_param` (Twilio's `bodySHA256`) covers it.
    fn check_body_covered(&self, template: &Template) -> Result<(), SpecError> {
        let form_only = template.needs(&Part::SortedFormParams) && !template.needs(&Part::Body);
        if form_only && self.body_sha256_param.is_none() {
            return refuse(
                "template",
                "{form_params} leaves any other body unsigned: add {body} or body_sha256_param",
            );
        }
        Ok(())
    }

    /// A header named but never read is a misunderstanding, as is `{id}` with no id header.
    fn check_headers_used(&self, template: &Template) -> Result<(), SpecError> {
        let timestamp_from_header = self
            .timestamp
            .as_ref()
            .is_some_and(|t| t.source == TimestampSource::Header);
        for (i, set) in self.header_sets.iter().enumerate() {
            if set.timestamp.is_some() != timestamp_from_header {
                return refuse(
                    format!("header_sets[{i}].timestamp"),
                    "give it exactly when timestamp.source is header",
                );
            }
            let read = [
                ("id", set.id.is_some(), Part::Id),
                ("nonce", set.nonce.is_some(), Part::Nonce),
                (
                    "signed_headers",
                    set.signed_headers.is_some(),
                    Part::SignedHeaders,
                ),
            ];
            for (field, given, part) in read {
                if given != template.needs(&part) {
                    return refuse(
                        format!("header_sets[{i}].{field}"),
                        format!("give it exactly when the template uses {{{field}}}"),
                    );
                }
            }
        }
        for (field, part) in [
            ("id", Part::Id),
            ("nonce", Part::Nonce),
            ("signed_headers", Part::SignedHeaders),
        ] {
            if template.needs(&part) && self.header_sets.is_empty() {
                return refuse(
                    "template",
                    format!("{{{field}}} needs a header set with a {field} header"),
                );
            }
        }
        Ok(())
    }

    /// The timestamp rule, refused where the timestamp it checks would not be signed: a freshness
    /// window on an unsigned value stops no replay.
    fn timestamp_rule(&self, template: &Template) -> Result<Option<TimestampRule>, SpecError> {
        let field_key = self.format.carries_timestamp();
        let Some(spec) = &self.timestamp else {
            if template.needs(&Part::Timestamp) {
                return refuse(
                    "timestamp",
                    "the template uses {timestamp}: say where it comes from",
                );
            }
            if field_key {
                return refuse(
                    "format",
                    "this format carries a timestamp: give timestamp.source: signature_field",
                );
            }
            return Ok(None);
        };
        let signed = match &spec.source {
            TimestampSource::Header => {
                // `{signed_headers}` always signs the timestamp header.
                template.needs(&Part::Timestamp) || template.needs(&Part::SignedHeaders)
            }
            TimestampSource::SignatureField => template.needs(&Part::Timestamp),
            TimestampSource::Json(pointer) => {
                template.needs(&Part::Body) || template.needs(&Part::Json(pointer.clone()))
            }
        };
        if !signed {
            return refuse(
                "timestamp.source",
                "the template does not sign this timestamp",
            );
        }
        if (spec.source == TimestampSource::SignatureField) != field_key {
            return refuse(
                "timestamp.source",
                "signature_field goes with style fields and its timestamp_key, or style timestamp_first",
            );
        }
        Ok(Some(TimestampRule {
            source: spec.source.clone(),
            unit: spec.unit,
            tolerance: spec.tolerance.map(Duration::from_secs),
            reject_future: spec.reject_future,
        }))
    }
}
