//! Where a delivery carries its signatures and how they are written: the header sets a scheme
//! knows, and how one header value splits into signature texts (and Stripe-style timestamp fields).

use http::{HeaderMap, HeaderName};
use serde::{Deserialize, Serialize};

use crate::verify::Rejection;

/// How one signature header carries its signature(s). In YAML a map whose `style` names the variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "style", rename_all = "lowercase", deny_unknown_fields)]
pub enum SignatureFormat {
    /// The whole value is one signature after one of `prefixes` (`""` among them: bare is fine too).
    Whole {
        #[serde(default)]
        prefixes: Vec<String>,
    },
    /// Items split on `separator`; those starting with a prefix are signatures, others (unknown
    /// versions) are ignored. Standard Webhooks: `v1,<b64> v1,<b64>`; PagerDuty: `v1=<hex>,v1=<hex>`.
    List {
        separator: char,
        prefixes: Vec<String>,
    },
    /// `key=value` fields split on `separator`: Stripe's `t=...,v1=...,v1=...`, Paddle's `ts=...;h1=...`.
    Fields {
        separator: char,
        signature_keys: Vec<String>,
        timestamp_key: Option<String>,
    },
}

/// The headers one delivery uses. A scheme may know several sets (Svix's `svix-*` and Standard
/// Webhooks' `webhook-*`); the first whose signature header is present is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSet {
    /// Each listed header is a source of candidates: Box sends PRIMARY and SECONDARY.
    pub signatures: Vec<HeaderName>,
    pub timestamp: Option<HeaderName>,
    pub id: Option<HeaderName>,
}

/// The one value of a header, refusing duplicates: a proxy between could pick either copy.
pub(crate) fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'h [u8]>, Rejection> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Rejection::DuplicatedSignature);
    }
    Ok(Some(first.as_bytes()))
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

impl SignatureFormat {
    /// Splits one header value into raw signature texts and, for `Fields`, the timestamp field.
    pub(super) fn split<'v>(
        &self,
        value: &'v [u8],
        out: &mut Vec<&'v [u8]>,
    ) -> Result<Option<&'v [u8]>, Rejection> {
        match self {
            SignatureFormat::Whole { prefixes } => {
                let value = trim(value);
                let stripped = if prefixes.is_empty() {
                    Some(value)
                } else {
                    prefixes
                        .iter()
                        .find_map(|p| value.strip_prefix(p.as_bytes()))
                };
                out.push(stripped.ok_or(Rejection::MalformedSignature)?);
                Ok(None)
            }
            SignatureFormat::List {
                separator,
                prefixes,
            } => {
                let mut separator_bytes = [0u8; 4];
                let separator = separator.encode_utf8(&mut separator_bytes).as_bytes();
                for item in value.split(|b| separator.contains(b)).map(trim) {
                    if let Some(signature) = prefixes
                        .iter()
                        .find_map(|p| item.strip_prefix(p.as_bytes()))
                    {
                        out.push(signature);
                    }
                }
                Ok(None)
            }
            SignatureFormat::Fields {
                separator,
                signature_keys,
                timestamp_key,
            } => {
                let mut timestamp = None;
                for field in value.split(|&b| b as char == *separator).map(trim) {
                    let Some(eq) = field.iter().position(|&b| b == b'=') else {
                        continue;
                    };
                    let (key, text) = (trim(&field[..eq]), trim(&field[eq + 1..]));
                    if timestamp_key.as_ref().is_some_and(|k| k.as_bytes() == key) {
                        if timestamp.replace(text).is_some() {
                            return Err(Rejection::DuplicatedSignature);
                        }
                    } else if signature_keys.iter().any(|k| k.as_bytes() == key) {
                        out.push(text);
                    }
                }
                Ok(timestamp)
            }
        }
    }
}
