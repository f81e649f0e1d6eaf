//! Shared-token schemes: for senders that sign nothing and send a token in the URL (`query_token`),
//! in a header (GitLab's `X-Gitlab-Token`), or as HTTP basic auth (`Authorization: Basic`, RFC 7617:
//! Postmark, Chargebee, Pipedrive), whose secrets are written `user:pass`.

use std::time::SystemTime;

use base64::Engine as _;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName};
use percent_encoding::percent_decode;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Rejection, Secret};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Query(String),
    Header(HeaderName),
    /// `Authorization: Basic base64(user:pass)`; the decoded `user:pass` is the token.
    Basic,
}

pub struct TokenVerifier {
    source: TokenSource,
    /// SHA-256 of each secret with its `not_after`: comparing digests keeps the comparison
    /// constant-time even when the candidate's length differs from the secret's.
    digests: Vec<([u8; 32], Option<SystemTime>)>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("source", &self.source)
            .field("tokens", &self.digests.len())
            .finish()
    }
}

/// Decodes one `application/x-www-form-urlencoded` component the way the app behind us would.
fn decode_component(raw: &str) -> Vec<u8> {
    let spaced: Vec<u8> = raw
        .bytes()
        .map(|b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&spaced).collect()
}

fn pair_name(pair: &str) -> &str {
    pair.split_once('=').map_or(pair, |(name, _)| name)
}

/// The `user:pass` of the one `Authorization: Basic` header. The scheme name is case-insensitive
/// (RFC 7617); anything else in the header, or a payload that is not base64 of `user:pass`, is malformed.
fn basic_credentials(headers: &HeaderMap) -> Result<Vec<u8>, Rejection> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(Rejection::MissingSignature)?;
    if values.next().is_some() {
        return Err(Rejection::DuplicatedSignature);
    }
    let (scheme, payload) = value
        .to_str()
        .ok()
        .and_then(|text| text.split_once(' '))
        .ok_or(Rejection::MalformedSignature)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(Rejection::MalformedSignature);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(payload.trim_matches(' '))
        .map_err(|_| Rejection::MalformedSignature)?;
    if !decoded.contains(&b':') {
        return Err(Rejection::MalformedSignature);
    }
    Ok(decoded)
}

impl TokenVerifier {
    pub fn new(source: TokenSource, secrets: &[(Secret, Option<SystemTime>)]) -> Self {
        let digests = secrets
            .iter()
            .map(|(secret, not_after)| (Sha256::digest(secret.expose()).into(), *not_after))
            .collect();
        TokenVerifier { source, digests }
    }

    pub fn source(&self) -> &TokenSource {
        &self.source
    }

    /// Names are compared decoded, so `tok%65n=` counts as a second `token` and cannot slip past.
    fn is_token_param(param: &str, raw_name: &str) -> bool {
        decode_component(raw_name) == param.as_bytes()
    }

    /// The token, present exactly once and non-empty.
    fn token(&self, headers: &HeaderMap, query: Option<&str>) -> Result<Vec<u8>, Rejection> {
        let token = match &self.source {
            TokenSource::Query(param) => {
                let mut values = query
                    .unwrap_or("")
                    .split('&')
                    .filter(|pair| !pair.is_empty() && Self::is_token_param(param, pair_name(pair)))
                    .map(|pair| pair.split_once('=').map_or("", |(_, value)| value));
                let value = values.next().ok_or(Rejection::MissingSignature)?;
                if values.next().is_some() {
                    return Err(Rejection::DuplicatedSignature);
                }
                decode_component(value)
            }
            TokenSource::Header(name) => {
                let mut values = headers.get_all(name).iter();
                let value = values.next().ok_or(Rejection::MissingSignature)?;
                if values.next().is_some() {
                    return Err(Rejection::DuplicatedSignature);
                }
                value.as_bytes().to_vec()
            }
            TokenSource::Basic => basic_credentials(headers)?,
        };
        if token.is_empty() {
            return Err(Rejection::MissingSignature);
        }
        Ok(token)
    }

    /// Presence checks only, so a request without a token is refused before its body is read.
    pub fn precheck(&self, headers: &HeaderMap, query: Option<&str>) -> Result<(), Rejection> {
        self.token(headers, query).map(drop)
    }

    /// The positions of the active tokens equal to the request's, for `hookguard explain`; each
    /// compared by digest in constant time, as `verify` does.
    /// How many tokens the route holds, expired ones included.
    pub fn token_count(&self) -> usize {
        self.digests.len()
    }

    pub fn matching_tokens(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        now: SystemTime,
    ) -> Result<Vec<usize>, Rejection> {
        let candidate: [u8; 32] = Sha256::digest(self.token(headers, query)?).into();
        Ok(self
            .digests
            .iter()
            .enumerate()
            .filter(|(_, (_, limit))| limit.is_none_or(|l| now <= l))
            .filter(|(_, (digest, _))| bool::from(digest.ct_eq(&candidate)))
            .map(|(i, _)| i)
            .collect())
    }

    pub fn verify(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        now: SystemTime,
    ) -> Result<(), Rejection> {
        self.verify_matched(headers, query, now).map(|_| ())
    }

    /// Verifies, and says which token matched, by position, chosen in constant time.
    pub fn verify_matched(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        now: SystemTime,
    ) -> Result<usize, Rejection> {
        let candidate: [u8; 32] = Sha256::digest(self.token(headers, query)?).into();
        let active = self
            .digests
            .iter()
            .enumerate()
            .filter(|(_, (_, limit))| limit.is_none_or(|l| now <= l));
        super::first_match(active.map(|(i, (digest, _))| (i, digest.ct_eq(&candidate))))
    }

    /// The query without a query token, every other pair kept raw and in order; `None` when empty.
    pub fn strip<'q>(&self, query: Option<&'q str>) -> Option<std::borrow::Cow<'q, str>> {
        let query = query?;
        let TokenSource::Query(param) = &self.source else {
            return Some(std::borrow::Cow::Borrowed(query));
        };
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| !Self::is_token_param(param, pair_name(pair)))
            .collect();
        let joined = kept.join("&");
        (!joined.is_empty()).then_some(std::borrow::Cow::Owned(joined))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: SystemTime = SystemTime::UNIX_EPOCH;

    fn verifier(source: TokenSource) -> TokenVerifier {
        TokenVerifier::new(
            source,
            &[
                (Secret::new("old-token"), None),
                (Secret::new("s3cret token"), None),
            ],
        )
    }

    fn query_verifier() -> TokenVerifier {
        verifier(TokenSource::Query("token".into()))
    }

    #[test]
    fn accepts_the_token_anywhere_and_decoded() {
        let v = query_verifier();
        let empty = HeaderMap::new();
        for query in [
            "a=1&token=old-token",
            "token=old-token&a=1",
            "token=s3cret+token",
            "token=s3cret%20token",
        ] {
            assert_eq!(v.verify(&empty, Some(query), NOW), Ok(()), "{query}");
        }
    }

    #[test]
    fn matching_tokens_names_the_position_of_the_token_sent() {
        let v = query_verifier();
        let empty = HeaderMap::new();
        assert_eq!(
            v.matching_tokens(&empty, Some("token=old-token"), NOW),
            Ok(vec![0])
        );
        assert_eq!(
            v.matching_tokens(&empty, Some("token=s3cret+token"), NOW),
            Ok(vec![1])
        );
        assert_eq!(
            v.matching_tokens(&empty, Some("token=nope"), NOW),
            Ok(vec![])
        );
    }

    #[test]
    fn every_query_rejection_path() {
        let v = query_verifier();
        let empty = HeaderMap::new();
        let cases = [
            (None, Rejection::MissingSignature),
            (Some(""), Rejection::MissingSignature),
            (Some("a=1"), Rejection::MissingSignature),
            (Some("a=1&token="), Rejection::MissingSignature),
            (Some("a=1&token"), Rejection::MissingSignature),
            (
                Some("token=old-token&token=old-token"),
                Rejection::DuplicatedSignature,
            ),
            (
                Some("token=wrong&token=old-token"),
                Rejection::DuplicatedSignature,
            ),
            (
                Some("tok%65n=old-token&token=old-token"),
                Rejection::DuplicatedSignature,
            ),
            (Some("token=old-toke"), Rejection::SignatureMismatch),
            (Some("token=old-token2"), Rejection::SignatureMismatch),
            (Some("token=OLD-TOKEN"), Rejection::SignatureMismatch),
            (Some("Token=old-token"), Rejection::MissingSignature),
        ];
        for (query, expected) in cases {
            assert_eq!(v.verify(&empty, query, NOW), Err(expected), "{query:?}");
        }
    }

    #[test]
    fn header_tokens() {
        let v = verifier(TokenSource::Header(HeaderName::from_static(
            "x-gitlab-token",
        )));
        let mut headers = HeaderMap::new();
        assert_eq!(
            v.verify(&headers, None, NOW),
            Err(Rejection::MissingSignature)
        );
        headers.insert("x-gitlab-token", "old-token".parse().expect("value"));
        assert_eq!(v.verify(&headers, None, NOW), Ok(()));
        headers.append("x-gitlab-token", "old-token".parse().expect("value"));
        assert_eq!(
            v.verify(&headers, None, NOW),
            Err(Rejection::DuplicatedSignature)
        );
        headers.insert("x-gitlab-token", "wrong".parse().expect("value"));
        assert_eq!(
            v.verify(&headers, None, NOW),
            Err(Rejection::SignatureMismatch)
        );
        assert_eq!(v.strip(Some("a=1&token=x")).as_deref(), Some("a=1&token=x"));
    }

    fn basic(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value.parse().expect("value"));
        headers
    }

    #[test]
    fn basic_auth_compares_user_and_password_together() {
        let v = TokenVerifier::new(
            TokenSource::Basic,
            &[(Secret::new("postmark:s3cret pass"), None)],
        );
        let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        let good = format!("Basic {}", encode("postmark:s3cret pass"));
        assert_eq!(v.verify(&basic(&good), None, NOW), Ok(()));
        let lower = format!("basic {}", encode("postmark:s3cret pass"));
        assert_eq!(v.verify(&basic(&lower), None, NOW), Ok(()));
        for (value, expected) in [
            (
                format!("Basic {}", encode("postmark:wrong")),
                Rejection::SignatureMismatch,
            ),
            (
                format!("Basic {}", encode("other:s3cret pass")),
                Rejection::SignatureMismatch,
            ),
            (
                format!("Basic {}", encode("postmark")),
                Rejection::MalformedSignature,
            ),
            (
                format!("Bearer {}", encode("postmark:s3cret pass")),
                Rejection::MalformedSignature,
            ),
            (
                "Basic not*base64".to_string(),
                Rejection::MalformedSignature,
            ),
            ("Basic".to_string(), Rejection::MalformedSignature),
        ] {
            assert_eq!(
                v.verify(&basic(&value), None, NOW),
                Err(expected),
                "{value}"
            );
        }
        assert_eq!(
            v.verify(&HeaderMap::new(), None, NOW),
            Err(Rejection::MissingSignature)
        );
        let mut twice = basic(&good);
        twice.append(AUTHORIZATION, good.parse().expect("value"));
        assert_eq!(
            v.verify(&twice, None, NOW),
            Err(Rejection::DuplicatedSignature)
        );
    }

    #[test]
    fn expired_tokens_stop_matching() {
        let later = NOW + std::time::Duration::from_secs(10);
        let v = TokenVerifier::new(
            TokenSource::Query("t".into()),
            &[(Secret::new("x"), Some(NOW))],
        );
        assert_eq!(v.verify(&HeaderMap::new(), Some("t=x"), NOW), Ok(()));
        assert_eq!(
            v.verify(&HeaderMap::new(), Some("t=x"), later),
            Err(Rejection::NoActiveSecret)
        );
    }

    #[test]
    fn strip_removes_only_the_token_and_keeps_order_and_encoding() {
        let v = query_verifier();
        assert_eq!(
            v.strip(Some("action=create&path=%2Fa+b&token=old-token&at=1"))
                .as_deref(),
            Some("action=create&path=%2Fa+b&at=1")
        );
        assert_eq!(v.strip(Some("token=old-token&x=1")).as_deref(), Some("x=1"));
        assert_eq!(v.strip(Some("token=old-token")), None);
        assert_eq!(v.strip(None), None);
        assert_eq!(v.strip(Some("tok%65n=x&y=2")).as_deref(), Some("y=2"));
    }
}
