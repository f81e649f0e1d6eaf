//! Who may use the admin API: the `admin_token` as `Authorization: Bearer <token>`, needed for
//! every change, and for reads too when the admin listener is not on loopback.

use http::{header, HeaderMap};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::verify::Secret;

/// Why a request is turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No token, or the wrong one: 401.
    Unauthorized,
    /// A token is needed but none is configured, so nobody can be let in: 403.
    NotConfigured,
}

/// Lets the request in, or says why not. `changes`: POST or DELETE; `loopback`: the configured
/// admin address is a loopback one, so only this machine can read.
pub fn check(
    token: Option<&Secret>,
    changes: bool,
    loopback: bool,
    headers: &HeaderMap,
) -> Result<(), Denied> {
    if !changes && loopback {
        return Ok(());
    }
    let token = token.ok_or(Denied::NotConfigured)?;
    let given = bearer(headers).ok_or(Denied::Unauthorized)?;
    if same(given, token.expose()) {
        Ok(())
    } else {
        Err(Denied::Unauthorized)
    }
}

/// The token of `Authorization: Bearer <token>`; the scheme name is case-insensitive (RFC 9110).
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let space = value.iter().position(|b| *b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// Compares digests in constant time, so neither the bytes nor the length of the configured token
/// can be learned from timing.
fn same(given: &[u8], expected: &[u8]) -> bool {
    Sha256::digest(given)
        .as_slice()
        .ct_eq(Sha256::digest(expected).as_slice())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef-token";

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().expect("header value"));
        headers
    }

    fn secret() -> Secret {
        Secret::new(TOKEN)
    }

    #[test]
    fn loopback_reads_need_nothing() {
        assert_eq!(check(None, false, true, &HeaderMap::new()), Ok(()));
    }

    #[test]
    fn changes_need_the_token_even_on_loopback() {
        let headers = with(&format!("Bearer {TOKEN}"));
        assert_eq!(check(Some(&secret()), true, true, &headers), Ok(()));
        assert_eq!(
            check(Some(&secret()), true, true, &HeaderMap::new()),
            Err(Denied::Unauthorized)
        );
        assert_eq!(
            check(None, true, true, &headers),
            Err(Denied::NotConfigured)
        );
    }

    #[test]
    fn reads_elsewhere_than_loopback_need_the_token() {
        assert_eq!(
            check(Some(&secret()), false, false, &HeaderMap::new()),
            Err(Denied::Unauthorized)
        );
        let headers = with(&format!("bearer  {TOKEN} "));
        assert_eq!(check(Some(&secret()), false, false, &headers), Ok(()));
    }

    #[test]
    fn wrong_tokens_and_schemes_are_refused() {
        for value in [
            "Bearer 0123456789abcdef-toke",
            "Bearer 0123456789abcdef-tokenX",
            "Basic MDEyMzQ1Njc4OWFiY2RlZi10b2tlbg==",
            "Bearer",
            "Bearer ",
            TOKEN,
        ] {
            assert_eq!(
                check(Some(&secret()), true, true, &with(value)),
                Err(Denied::Unauthorized),
                "{value}"
            );
        }
    }
}
