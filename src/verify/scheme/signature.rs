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
    /// A lone `""` prefix takes every item as a signature (Plivo's `<b64>,<b64>`).
    List {
        separator: char,
        prefixes: Vec<String>,
    },
    /// `key=value` fields split on `separator`: Stripe's `t=...,v1=...,v1=...`, Paddle's `ts=...;h1=...`.
    /// With `set_separator`, the value is several such sets, each with its own timestamp, verified
    /// on its own (Persona's `t=...,v1=... t=...,v1=...` while a secret rotates).
    Fields {
        separator: char,
        signature_keys: Vec<String>,
        timestamp_key: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        set_separator: Option<char>,
    },
    /// Items split on `separator`: the first is the timestamp, the rest are signatures (Recurly's
    /// `<ms>,<hex>,<hex>`).
    #[serde(rename = "timestamp_first")]
    TimestampFirst { separator: char },
}

/// The signatures of one set in a header value and the timestamp written beside them, if any.
/// Most formats carry one set; `Fields` with a `set_separator` carries several.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct SignatureSet<'v> {
    pub texts: Vec<&'v [u8]>,
    pub timestamp: Option<&'v [u8]>,
}

/// The headers one delivery uses. A scheme may know several sets (Svix's `svix-*` and Standard
/// Webhooks' `webhook-*`); the first whose signature header is present is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSet {
    /// Each listed header is a source of candidates: Box sends PRIMARY and SECONDARY.
    pub signatures: Vec<HeaderName>,
    pub timestamp: Option<HeaderName>,
    pub id: Option<HeaderName>,
    /// The header whose value `{nonce}` signs (Plivo's `X-Plivo-Signature-V3-Nonce`).
    pub nonce: Option<HeaderName>,
    /// The header listing the headers `{signed_headers}` signs (Contentful's
    /// `x-contentful-signed-headers`).
    pub signed_headers: Option<HeaderName>,
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
    /// Whether one header value may carry several sets, each verified with its own timestamp.
    pub(super) fn has_sets(&self) -> bool {
        matches!(
            self,
            SignatureFormat::Fields {
                set_separator: Some(_),
                ..
            }
        )
    }

    /// Whether the timestamp is written in the signature header itself.
    pub fn carries_timestamp(&self) -> bool {
        match self {
            SignatureFormat::Fields { timestamp_key, .. } => timestamp_key.is_some(),
            SignatureFormat::TimestampFirst { .. } => true,
            SignatureFormat::Whole { .. } | SignatureFormat::List { .. } => false,
        }
    }

    /// Splits one header value into its sets of raw signature texts, each with its timestamp.
    pub(super) fn split<'v>(&self, value: &'v [u8]) -> Result<Vec<SignatureSet<'v>>, Rejection> {
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
                let text = stripped.ok_or(Rejection::MalformedSignature)?;
                Ok(vec![SignatureSet {
                    texts: vec![text],
                    timestamp: None,
                }])
            }
            SignatureFormat::List {
                separator,
                prefixes,
            } => {
                let texts = items(value, *separator)
                    .filter_map(|item| {
                        prefixes
                            .iter()
                            .find_map(|p| item.strip_prefix(p.as_bytes()))
                    })
                    .collect();
                Ok(vec![SignatureSet {
                    texts,
                    timestamp: None,
                }])
            }
            SignatureFormat::Fields {
                separator,
                signature_keys,
                timestamp_key,
                set_separator,
            } => {
                let sets: Vec<&[u8]> = match set_separator {
                    Some(between) => items(value, *between).filter(|s| !s.is_empty()).collect(),
                    None => vec![value],
                };
                sets.into_iter()
                    .map(|set| fields(set, *separator, signature_keys, timestamp_key.as_deref()))
                    .collect()
            }
            SignatureFormat::TimestampFirst { separator } => {
                let mut items = items(value, *separator);
                let timestamp = items.next();
                Ok(vec![SignatureSet {
                    texts: items.collect(),
                    timestamp,
                }])
            }
        }
    }
}

/// The items of a value split on `separator`, each trimmed.
fn items(value: &[u8], separator: char) -> impl Iterator<Item = &[u8]> {
    let mut bytes = [0u8; 4];
    let separator = separator.encode_utf8(&mut bytes).as_bytes().to_vec();
    value.split(move |b| separator.contains(b)).map(trim)
}

/// One set of `key=value` fields: the signatures under `signature_keys` and the one timestamp.
fn fields<'v>(
    set: &'v [u8],
    separator: char,
    signature_keys: &[String],
    timestamp_key: Option<&str>,
) -> Result<SignatureSet<'v>, Rejection> {
    let mut found = SignatureSet::default();
    for field in items(set, separator) {
        let Some(eq) = field.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (key, text) = (trim(&field[..eq]), trim(&field[eq + 1..]));
        if timestamp_key.is_some_and(|k| k.as_bytes() == key) {
            if found.timestamp.replace(text).is_some() {
                return Err(Rejection::DuplicatedSignature);
            }
        } else if signature_keys.iter().any(|k| k.as_bytes() == key) {
            found.texts.push(text);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn timestamp_first_takes_the_first_item_as_the_timestamp() {
        let format = SignatureFormat::TimestampFirst { separator: ',' };
        let sets = format.split(b"1700000000000, ab ,cd").expect("splits");
        assert_eq!(
            sets,
            vec![SignatureSet {
                texts: vec![&b"ab"[..], b"cd"],
                timestamp: Some(b"1700000000000"),
            }]
        );
        let only = format.split(b"1700000000000").expect("splits");
        assert!(only[0].texts.is_empty());
        assert!(format.carries_timestamp());
    }

    #[test]
    fn field_sets_keep_each_timestamp_with_its_own_signatures() {
        let format = SignatureFormat::Fields {
            separator: ',',
            signature_keys: strings(&["v1"]),
            timestamp_key: Some("t".into()),
            set_separator: Some(' '),
        };
        let sets = format.split(b"t=1,v1=aa  t=2,v1=bb,v1=cc").expect("splits");
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0].timestamp, Some(&b"1"[..]));
        assert_eq!(sets[0].texts, vec![&b"aa"[..]]);
        assert_eq!(sets[1].timestamp, Some(&b"2"[..]));
        assert_eq!(sets[1].texts, vec![&b"bb"[..], b"cc"]);
        assert!(format.has_sets());
        assert_eq!(
            format.split(b"t=1,t=2,v1=aa"),
            Err(Rejection::DuplicatedSignature)
        );
    }

    #[test]
    fn a_lone_empty_list_prefix_takes_every_item() {
        let format = SignatureFormat::List {
            separator: ',',
            prefixes: strings(&[""]),
        };
        let sets = format.split(b"aa, bb").expect("splits");
        assert_eq!(sets[0].texts, vec![&b"aa"[..], b"bb"]);
    }
}
