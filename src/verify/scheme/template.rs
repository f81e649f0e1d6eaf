//! The signed content: the template a scheme signs (`{timestamp}.{body}` and the like), parsed
//! once at load, and the message built from it for each request, including the rewritings some
//! senders apply first (HubSpot's URL decoding, Twilio's sorted form fields and `bodySHA256`,
//! Plivo's sorted URL, Contentful's canonical path and signed headers).

use std::borrow::Cow;

use http::{HeaderMap, Uri};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

use super::signature::{single_header, HeaderSet};
use super::{LazyJson, RequestView, Scheme, TimestampSource};
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
    /// Plivo V3: `public_url` without its query, `?` and the query's fields sorted `name=value`
    /// joined by `&`, then `.` and the form fields sorted name+value. A body that is not form
    /// fields would be unsigned, so it is refused.
    UrlPlivo,
    /// The value of the header set's `nonce` header (Plivo V3).
    Nonce,
    /// The path of `public_url` and the request's query, percent-encoded as Contentful's
    /// node-apps-toolkit does before signing.
    Path,
    /// Contentful: the headers listed in the set's `signed_headers` header that the request has,
    /// with that header and the timestamp header, lower-cased, sorted, written `name:value` joined
    /// by `;`. The list is written back as those names sorted and joined by `,`.
    SignedHeaders,
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
                "url_plivo" => Part::UrlPlivo,
                "nonce" => Part::Nonce,
                "path" => Part::Path,
                "signed_headers" => Part::SignedHeaders,
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
            && !parts.iter().any(|p| {
                matches!(
                    p,
                    Part::Json(_) | Part::SortedFormParams | Part::Url | Part::UrlPlivo
                )
            })
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
        self.0.iter().any(|p| {
            matches!(
                p,
                Part::Url | Part::UrlHubspot | Part::UrlPlivo | Part::Path
            )
        })
    }
}

/// The values a template signs that come from headers, read (or, when signing, chosen) first.
#[derive(Debug, Clone, Default)]
pub struct SignedValues<'a> {
    pub timestamp: Option<Vec<u8>>,
    pub id: Option<&'a [u8]>,
    pub nonce: Option<&'a [u8]>,
}

impl Scheme {
    /// The signed content for a request whose header-borne values are given, as a sender builds it.
    /// Headers the template reads directly (`{signed_headers}`) come from the request.
    pub fn message<'a>(
        &'a self,
        request: &RequestView<'a>,
        values: &SignedValues<'a>,
    ) -> Result<Vec<Cow<'a, [u8]>>, Rejection> {
        let set = self
            .header_set(request.headers)
            .or(self.header_sets.first());
        self.message_with(request, set, values, &LazyJson::new(request.body))
    }

    pub(super) fn message_with<'a>(
        &'a self,
        request: &RequestView<'a>,
        set: Option<&HeaderSet>,
        values: &SignedValues<'a>,
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
                Part::Timestamp => Cow::Owned(
                    values
                        .timestamp
                        .clone()
                        .ok_or(Rejection::MissingTimestamp)?,
                ),
                Part::Id => Cow::Borrowed(values.id.ok_or(Rejection::MissingId)?),
                Part::Nonce => Cow::Borrowed(values.nonce.ok_or(Rejection::MissingNonce)?),
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
                Part::UrlPlivo => Cow::Owned(plivo_url(request)?),
                Part::Path => Cow::Owned(contentful_path(request).into_bytes()),
                Part::SignedHeaders => Cow::Owned(self.signed_headers(set, request.headers)?),
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

    /// Contentful's signed headers, as its node-apps-toolkit rebuilds them when verifying: the
    /// listed headers the request has, plus the list header and the timestamp header, which are
    /// always signed, so the freshness window is always on a signed value.
    fn signed_headers(
        &self,
        set: Option<&HeaderSet>,
        headers: &HeaderMap,
    ) -> Result<Vec<u8>, Rejection> {
        let list_name = set
            .and_then(|s| s.signed_headers.as_ref())
            .ok_or(Rejection::MissingSignature)?;
        let list = single_header(headers, list_name)?.ok_or(Rejection::MissingSignature)?;
        let mut names: Vec<&str> = list
            .split(|&b| b == b',')
            .filter_map(|name| std::str::from_utf8(name).ok())
            .filter(|name| headers.contains_key(*name) && *name == name.to_ascii_lowercase())
            .collect();
        names.push(list_name.as_str());
        let stamped = self
            .timestamp
            .as_ref()
            .is_some_and(|t| t.source == TimestampSource::Header);
        if let Some(stamp) = set.and_then(|s| s.timestamp.as_ref()).filter(|_| stamped) {
            names.push(stamp.as_str());
        }
        names.sort_unstable();
        names.dedup();
        let rewritten_list = names.join(",");
        let mut out = Vec::new();
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                out.push(b';');
            }
            out.extend_from_slice(name.as_bytes());
            out.push(b':');
            if *name == list_name.as_str() {
                out.extend_from_slice(rewritten_list.as_bytes());
            } else {
                let value = single_header(
                    headers,
                    &http::HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| Rejection::MalformedSignature)?,
                )?
                .unwrap_or_default();
                out.extend_from_slice(value.trim_ascii());
            }
        }
        Ok(out)
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

/// Plivo V3's URL: `public_url` without a query; `?` and the query's fields sorted `name=value`
/// and joined by `&` when there are any, or when form fields follow; `.` between the two when both
/// are there; then the form fields sorted name+value (plivo-python `construct_post_url`).
fn plivo_url(request: &RequestView<'_>) -> Result<Vec<u8>, Rejection> {
    let body = request.body.contiguous();
    if !body.is_empty() && !is_form(request.headers) {
        return Err(Rejection::UnsignedBody);
    }
    let base = request.public_url.unwrap_or("");
    let base = base.split(['?', '#']).next().unwrap_or(base);
    let query = sorted_pairs(request.query.unwrap_or("").as_bytes());
    let params = sorted_form_params(request.headers, body);
    let mut url = base.as_bytes().to_vec();
    if !query.is_empty() || !params.is_empty() {
        url.push(b'?');
    }
    for (i, (name, value)) in query.iter().enumerate() {
        if i > 0 {
            url.push(b'&');
        }
        url.extend_from_slice(name);
        url.push(b'=');
        url.extend_from_slice(value);
    }
    if !query.is_empty() && !params.is_empty() {
        url.push(b'.');
    }
    url.extend_from_slice(&params);
    Ok(url)
}

/// What `querystring.escape` leaves alone: the unreserved characters.
const QUERYSTRING_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');
/// What node-apps-toolkit's `getNormalizedEncodedURI` leaves alone: the unreserved characters and
/// `encodeURI`'s reserved ones.
const ENCODE_URI: &AsciiSet = &QUERYSTRING_ESCAPE
    .remove(b';')
    .remove(b',')
    .remove(b'/')
    .remove(b'?')
    .remove(b':')
    .remove(b'@')
    .remove(b'&')
    .remove(b'=')
    .remove(b'+')
    .remove(b'$')
    .remove(b'#');

/// Contentful's canonical path: `public_url`'s path and the request's query, the query escaped
/// whole and then the lot passed through `encodeURI`, as node-apps-toolkit signs it. Like the
/// toolkit, only the text up to a second `?` counts as the query.
fn contentful_path(request: &RequestView<'_>) -> String {
    let path = request
        .public_url
        .and_then(|url| url.parse::<Uri>().ok())
        .map(|uri| uri.path().to_string())
        .filter(|path| !path.is_empty())
        .unwrap_or_else(|| "/".to_string());
    let query = request
        .query
        .and_then(|q| q.split('?').next())
        .filter(|q| !q.is_empty());
    let joined = match query {
        Some(query) => format!("{path}?{}", utf8_percent_encode(query, QUERYSTRING_ESCAPE)),
        None => path,
    };
    utf8_percent_encode(&joined, ENCODE_URI).to_string()
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
    sorted_pairs(body)
        .into_iter()
        .flat_map(|(name, value)| name.into_iter().chain(value))
        .collect()
}

/// The `name=value` fields of urlencoded text, decoded (`+` is a space) and sorted by name then value.
fn sorted_pairs(text: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let decode = |raw: &[u8]| -> Vec<u8> {
        let spaced: Vec<u8> = raw
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_encoding::percent_decode(&spaced).collect()
    };
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = text
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
        // Trello and Favro sign the body, then the URL: any order of parts is written as given.
        let t = Template::parse("{body}{url}").expect("template");
        assert_eq!(t.0, vec![Part::Body, Part::Url]);
        let t = Template::parse("{url_plivo}.{nonce}").expect("template");
        assert_eq!(
            t.0,
            vec![Part::UrlPlivo, Part::Literal(b".".to_vec()), Part::Nonce]
        );
        assert!(t.needs_url());
        let t = Template::parse("{method}\n{path}\n{signed_headers}\n{body}").expect("template");
        assert!(t.needs(&Part::SignedHeaders) && t.needs_url());
        assert!(
            Template::parse("{nonce}").is_err(),
            "a nonce alone covers nothing"
        );
    }

    fn view<'a>(
        headers: &'a HeaderMap,
        query: Option<&'a str>,
        body: &'a crate::body::RawBody,
        url: &'a str,
    ) -> RequestView<'a> {
        RequestView {
            method: &http::Method::POST,
            headers,
            query,
            body,
            public_url: Some(url),
            now: std::time::SystemTime::UNIX_EPOCH,
        }
    }

    fn form_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().expect("value"),
        );
        headers
    }

    #[test]
    fn plivo_sorts_the_query_then_the_form_fields() {
        let headers = form_headers();
        let body = crate::body::RawBody::from(&b"b=2&a=x+y"[..]);
        let url = "https://h.test/p";
        let both = plivo_url(&view(&headers, Some("z=1&c=%3A"), &body, url)).expect("url");
        assert_eq!(both, b"https://h.test/p?c=:&z=1.ax yb2".to_vec());
        let form_only = plivo_url(&view(&headers, None, &body, url)).expect("url");
        assert_eq!(form_only, b"https://h.test/p?ax yb2".to_vec());
        let empty = crate::body::RawBody::from(&b""[..]);
        let query_only = plivo_url(&view(&headers, Some("z=1"), &empty, url)).expect("url");
        assert_eq!(query_only, b"https://h.test/p?z=1".to_vec());
        assert_eq!(
            plivo_url(&view(&headers, None, &empty, url)).expect("url"),
            url.as_bytes().to_vec()
        );
        let json = crate::body::RawBody::from(&b"{}"[..]);
        assert_eq!(
            plivo_url(&view(&HeaderMap::new(), None, &json, url)),
            Err(Rejection::UnsignedBody),
            "a body Plivo's signature would not cover is refused"
        );
    }

    #[test]
    fn contentful_path_is_encoded_as_the_toolkit_encodes_it() {
        let headers = HeaderMap::new();
        let body = crate::body::RawBody::from(&b""[..]);
        let url = "https://h.test/hooks/a b";
        assert_eq!(
            contentful_path(&view(&headers, None, &body, "https://h.test/hooks/x")),
            "/hooks/x"
        );
        assert_eq!(
            contentful_path(&view(
                &headers,
                Some("a=1&n=caf%C3%A9?x"),
                &body,
                "https://h.test/h"
            )),
            "/h?a%253D1%2526n%253Dcaf%2525C3%2525A9"
        );
        assert_eq!(
            contentful_path(&view(&headers, None, &body, "https://h.test")),
            "/"
        );
        // Not a URI: the path falls back to `/` rather than signing the text as it stands.
        assert_eq!(contentful_path(&view(&headers, None, &body, url)), "/");
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
