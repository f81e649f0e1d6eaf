//! The `query_token` scheme: for senders that sign nothing and can only put a shared token in the URL.

use percent_encoding::percent_decode;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use super::{Rejection, Secret};

pub struct QueryTokenVerifier {
    param: String,
    /// SHA-256 of each secret: comparing digests keeps the comparison constant-time even when the
    /// candidate's length differs from the secret's.
    token_digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for QueryTokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryTokenVerifier")
            .field("param", &self.param)
            .field("tokens", &self.token_digests.len())
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

/// Splits a query into its raw `name[=value]` pairs, skipping the empty ones `&&` leaves.
fn raw_pairs(query: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (pair, None),
        })
}

impl QueryTokenVerifier {
    pub fn new(param: String, secrets: &[Secret]) -> Self {
        let token_digests = secrets
            .iter()
            .map(|secret| Sha256::digest(secret.expose()).into())
            .collect();
        QueryTokenVerifier {
            param,
            token_digests,
        }
    }

    pub fn param(&self) -> &str {
        &self.param
    }

    /// Names are compared decoded, so `tok%65n=` counts as a second `token` and cannot slip past.
    fn is_token_param(&self, raw_name: &str) -> bool {
        decode_component(raw_name) == self.param.as_bytes()
    }

    /// The token must appear exactly once, non-empty, and equal one of the secrets.
    pub fn verify(&self, query: Option<&str>) -> Result<(), Rejection> {
        let mut tokens = raw_pairs(query.unwrap_or(""))
            .filter(|(name, _)| self.is_token_param(name))
            .map(|(_, value)| value.unwrap_or(""));
        let token = tokens.next().ok_or(Rejection::MissingSignature)?;
        if tokens.next().is_some() {
            return Err(Rejection::DuplicatedSignature);
        }
        let token = decode_component(token);
        if token.is_empty() {
            return Err(Rejection::MissingSignature);
        }
        let candidate: [u8; 32] = Sha256::digest(&token).into();
        let matched = self
            .token_digests
            .iter()
            .fold(Choice::from(0), |any, digest| {
                any | digest.ct_eq(&candidate)
            });
        if bool::from(matched) {
            Ok(())
        } else {
            Err(Rejection::SignatureMismatch)
        }
    }

    /// The query without the token, every other pair kept raw and in order; `None` when nothing is left.
    pub fn strip(&self, query: Option<&str>) -> Option<String> {
        let kept: Vec<&str> = query?
            .split('&')
            .filter(|pair| {
                let name = pair.split_once('=').map_or(*pair, |(name, _)| name);
                !self.is_token_param(name)
            })
            .collect();
        let joined = kept.join("&");
        (!joined.is_empty()).then_some(joined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> QueryTokenVerifier {
        QueryTokenVerifier::new(
            "token".to_string(),
            &[Secret::new("old-token"), Secret::new("s3cret token")],
        )
    }

    #[test]
    fn accepts_the_token_anywhere_and_decoded() {
        let v = verifier();
        assert_eq!(v.verify(Some("a=1&token=old-token")), Ok(()));
        assert_eq!(v.verify(Some("token=old-token&a=1")), Ok(()));
        assert_eq!(v.verify(Some("token=s3cret+token")), Ok(()));
        assert_eq!(v.verify(Some("token=s3cret%20token")), Ok(()));
    }

    #[test]
    fn every_rejection_path() {
        let v = verifier();
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
            assert_eq!(v.verify(query), Err(expected), "{query:?}");
        }
    }

    #[test]
    fn strip_removes_only_the_token_and_keeps_order_and_encoding() {
        let v = verifier();
        assert_eq!(
            v.strip(Some("action=create&path=%2Fa+b&token=old-token&at=1")),
            Some("action=create&path=%2Fa+b&at=1".to_string())
        );
        assert_eq!(
            v.strip(Some("token=old-token&x=1")),
            Some("x=1".to_string())
        );
        assert_eq!(v.strip(Some("token=old-token")), None);
        assert_eq!(v.strip(None), None);
        assert_eq!(v.strip(Some("tok%65n=x&y=2")), Some("y=2".to_string()));
    }
}
