//! Setup handshakes that a provider requires before it sends anything. hookguard holds the secret,
//! so it answers them itself and the app never has to.

use std::time::SystemTime;

use http::Method;
use serde_json::{json, Value};

use super::SignatureVerifier;

/// The longest challenge echoed back; real ones are short random strings.
const MAX_CHALLENGE: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    None,
    /// Dropbox: `GET ?challenge=X` must be answered with X as text/plain.
    DropboxChallenge,
    /// X (Twitter) CRC: `GET ?crc_token=X` is answered with `{"response_token":"sha256=<b64 HMAC>"}`.
    TwitterCrc,
    /// Zoom: a signed POST with event `endpoint.url_validation` is answered with the plain token and
    /// its hex HMAC.
    ZoomUrlValidation,
}

pub struct Answer {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// The one value of `name` in a query, decoded; `None` if absent or repeated.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    let mut values = query?.split('&').filter_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then_some(value)
    });
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let spaced = value.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|v| v.into_owned())
}

impl Handshake {
    /// Answers an unsigned challenge, which providers send as a GET before any delivery.
    pub fn answer_unsigned(
        self,
        method: &Method,
        query: Option<&str>,
        verifier: &SignatureVerifier,
        now: SystemTime,
    ) -> Option<Answer> {
        if method != Method::GET {
            return None;
        }
        match self {
            Handshake::DropboxChallenge => {
                let challenge = query_param(query, "challenge")
                    .filter(|c| !c.is_empty() && c.len() <= MAX_CHALLENGE)?;
                Some(Answer {
                    content_type: "text/plain",
                    body: challenge.into_bytes(),
                })
            }
            Handshake::TwitterCrc => {
                let token = query_param(query, "crc_token")
                    .filter(|c| !c.is_empty() && c.len() <= MAX_CHALLENGE)?;
                let mac = verifier.first_active_mac(token.as_bytes(), now)?;
                let encoded = super::Encoding::Base64.encode(&mac);
                let body = json!({ "response_token": format!("sha256={encoded}") }).to_string();
                Some(Answer {
                    content_type: "application/json",
                    body: body.into_bytes(),
                })
            }
            Handshake::None | Handshake::ZoomUrlValidation => None,
        }
    }

    /// Answers a challenge that arrives as a verified delivery.
    pub fn answer_signed(
        self,
        body: &crate::body::RawBody,
        verifier: &SignatureVerifier,
        now: SystemTime,
    ) -> Option<Answer> {
        if self != Handshake::ZoomUrlValidation {
            return None;
        }
        let event: Value = serde_json::from_slice(body.contiguous()).ok()?;
        if event.get("event")?.as_str()? != "endpoint.url_validation" {
            return None;
        }
        let plain = event.pointer("/payload/plainToken")?.as_str()?;
        let mac = verifier.first_active_mac(plain.as_bytes(), now)?;
        let body = json!({ "plainToken": plain, "encryptedToken": hex::encode(mac) }).to_string();
        Some(Answer {
            content_type: "application/json",
            body: body.into_bytes(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_must_be_single() {
        assert_eq!(
            query_param(Some("challenge=abc%20d"), "challenge").as_deref(),
            Some("abc d")
        );
        assert_eq!(
            query_param(Some("challenge=a&challenge=b"), "challenge"),
            None
        );
        assert_eq!(query_param(Some("x=1"), "challenge"), None);
        assert_eq!(query_param(None, "challenge"), None);
    }
}
