//! The signed content: the template a scheme signs (`{timestamp}.{body}` and the like), parsed
//! once at load, and the message built from it for each request, including the rewritings some
//! senders apply first (HubSpot's URL decoding, Twilio's sorted form fields and `bodySHA256`).

use std::borrow::Cow;

use http::HeaderMap;
use sha2::{Digest, Sha256};

use super::{LazyJson, RequestView, Scheme};
use crate::verify::Rejection;

/// One piece of the signed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Literal(Vec<u8>),
    Body,
    Timestamp,
    Id,
    Method,
    /// The route's `public_url`, plus `?query` when the request has one.
    Url,
    /// As `Url`, with the characters HubSpot v3 decodes before signing.
    UrlHubspot,
    /// Form fields of an urlencoded body, sorted by name, written name+value (Twilio, Mandrill).
    SortedFormParams,
    /// A JSON pointer into the body, written as the string or number found there.
    Json(String),
}

/// The signed content: `{timestamp}.{body}` and the like, parsed once at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(pub Vec<Part>);

/// Why a text is not a [`Template`]; each message quotes the template as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `{{` in template {text:?}")]
    Unclosed { text: String },
    #[error("unknown placeholder {{{name}}} in template {text:?}")]
    UnknownPlaceholder { name: String, text: String },
    #[error("template {text:?} covers nothing of the request")]
    CoversNothing { text: String },
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            literal.extend_from_slice(&rest.as_bytes()[..open]);
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| TemplateError::Unclosed {
                    text: text.to_string(),
                })?;
            let name = &rest[open + 1..open + close];
            let part = match name {
                "body" => Part::Body,
                "timestamp" => Part::Timestamp,
                "id" => Part::Id,
                "method" => Part::Method,
                "url" => Part::Url,
                "url_hubspot" => Part::UrlHubspot,
                "form_params" => Part::SortedFormParams,
                _ => match name.strip_prefix("json:") {
                    Some(pointer) if pointer.starts_with('/') => Part::Json(pointer.to_string()),
                    _ => {
                        return Err(TemplateError::UnknownPlaceholder {
                            name: name.to_string(),
                            text: text.to_string(),
                        })
                    }
                },
            };
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(part);
            rest = &rest[open + close + 1..];
        }
        literal.extend_from_slice(rest.as_bytes());
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        if !parts.contains(&Part::Body)
            && !parts
                .iter()
                .any(|p| matches!(p, Part::Json(_) | Part::SortedFormParams | Part::Url))
        {
            return Err(TemplateError::CoversNothing {
                text: text.to_string(),
            });
        }
        Ok(Template(parts))
    }

    pub fn needs(&self, wanted: &Part) -> bool {
        self.0.contains(wanted)
    }

    pub fn needs_url(&self) -> bool {
        self.0
            .iter()
            .any(|p| matches!(p, Part::Url | Part::UrlHubspot))
    }
}

impl Scheme {
    /// The signed content for a request whose timestamp and id texts are given, as a sender builds it.
    pub fn message<'a>(
        &'a self,
        request: &RequestView<'a>,
        timestamp: Option<Vec<u8>>,
        id: Option<&'a [u8]>,
    ) -> Result<Vec<Cow<'a, [u8]>>, Rejection> {
        self.message_with(request, timestamp, id, &LazyJson::new(request.body))
    }

    pub(super) fn message_with<'a>(
        &'a self,
        request: &RequestView<'a>,
        timestamp: Option<Vec<u8>>,
        id: Option<&'a [u8]>,
        json: &LazyJson<'_>,
    ) -> Result<Vec<Cow<'a, [u8]>>, Rejection> {
        let mut message = Vec::with_capacity(self.template.0.len() + 4);
        for part in &self.template.0 {
            let bytes: Cow<'a, [u8]> = match part {
                Part::Literal(bytes) => Cow::Borrowed(bytes),
                Part::Body => {
                    message.extend(request.body.chunks().map(Cow::Borrowed));
                    continue;
                }
                Part::Timestamp => {
                    Cow::Owned(timestamp.clone().ok_or(Rejection::MissingTimestamp)?)
                }
                Part::Id => Cow::Borrowed(id.ok_or(Rejection::MissingId)?),
                Part::Method => Cow::Borrowed(request.method.as_str().as_bytes()),
                Part::Url | Part::UrlHubspot => {
                    let mut url = request.public_url.unwrap_or("").to_string();
                    if let Some(query) = request.query {
                        url.push('?');
                        url.push_str(query);
                    }
                    if *part == Part::UrlHubspot {
                        url = hubspot_decode(&url);
                    }
                    Cow::Owned(url.into_bytes())
                }
                Part::SortedFormParams => Cow::Owned(sorted_form_params(
                    request.headers,
                    request.body.contiguous(),
                )),
                Part::Json(pointer) => Cow::Owned(
                    json.text(pointer)
                        .ok_or(Rejection::MalformedSignature)?
                        .into_bytes(),
                ),
            };
            message.push(bytes);
        }
        Ok(message)
    }

    /// Twilio signs the URL and form fields only. A body that is not form fields is covered solely by
    /// the URL's `bodySHA256`, so without it the body would be unsigned: refused.
    pub(super) fn check_body_sha256(
        &self,
        param: &str,
        request: &RequestView<'_>,
    ) -> Result<(), Rejection> {
        let declared = request.query.unwrap_or("").split('&').find_map(|pair| {
            pair.strip_prefix(param)
                .and_then(|rest| rest.strip_prefix('='))
        });
        match declared {
            Some(hex_digest) => {
                let mut digest = Sha256::new();
                for chunk in request.body.chunks() {
                    digest.update(chunk);
                }
                let actual = hex::encode(digest.finalize());
                if actual.eq_ignore_ascii_case(hex_digest) {
                    Ok(())
                } else {
                    Err(Rejection::SignatureMismatch)
                }
            }
            None if request.body.is_empty() || is_form(request.headers) => Ok(()),
            None => Err(Rejection::UnsignedBody),
        }
    }
}

/// Characters HubSpot decodes in the URI before signing (its "validating requests" v3 guide).
fn hubspot_decode(url: &str) -> String {
    const DECODED: [(&str, char); 12] = [
        ("%3A", ':'),
        ("%2F", '/'),
        ("%3F", '?'),
        ("%40", '@'),
        ("%21", '!'),
        ("%24", '$'),
        ("%27", '\''),
        ("%28", '('),
        ("%29", ')'),
        ("%2A", '*'),
        ("%2C", ','),
        ("%3B", ';'),
    ];
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let escape = rest.get(i..i + 3).unwrap_or("");
        match DECODED
            .iter()
            .find(|(code, _)| code.eq_ignore_ascii_case(escape))
        {
            Some((_, c)) => {
                out.push(*c);
                rest = &rest[i + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether the body is urlencoded form fields, the only body Twilio's signature covers directly.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// Decoded form fields of an urlencoded body, sorted by name then value, each written name+value.
fn sorted_form_params(headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
    if !is_form(headers) {
        return Vec::new();
    }
    let decode = |raw: &[u8]| -> Vec<u8> {
        let spaced: Vec<u8> = raw
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_encoding::percent_decode(&spaced).collect()
    };
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = body
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut halves = pair.splitn(2, |&b| b == b'=');
            let name = decode(halves.next().unwrap_or(b""));
            let value = decode(halves.next().unwrap_or(b""));
            (name, value)
        })
        .collect();
    pairs.sort();
    pairs
        .into_iter()
        .flat_map(|(name, value)| name.into_iter().chain(value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_into_parts() {
        let t = Template::parse("v0:{timestamp}:{body}").expect("template");
        assert_eq!(
            t.0,
            vec![
                Part::Literal(b"v0:".to_vec()),
                Part::Timestamp,
                Part::Literal(b":".to_vec()),
                Part::Body
            ]
        );
        let t = Template::parse("{id}.{timestamp}.{body}").expect("template");
        assert_eq!(t.0.len(), 5);
        assert!(Template::parse("{json:/signature/timestamp}{json:/signature/token}").is_ok());
        for bad in ["{body", "{nope}", "{timestamp}", "{json:x}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hubspot_decodes_only_its_characters() {
        assert_eq!(
            hubspot_decode("https://x.test/a%3Ab%2fc?d=%40%20%2A%zz%"),
            "https://x.test/a:b/c?d=@%20*%zz%"
        );
    }

    #[test]
    fn form_params_sort_by_name_and_decode() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8"
                .parse()
                .expect("value"),
        );
        assert_eq!(
            sorted_form_params(&headers, b"To=%2B1555&Body=hi+there&AccountSid=AC1"),
            b"AccountSidAC1Bodyhi thereTo+1555".to_vec()
        );
        headers.insert("content-type", "application/json".parse().expect("value"));
        assert!(sorted_form_params(&headers, b"a=b").is_empty());
    }
}
