//! Setup handshakes that a provider requires before it sends anything. hookguard holds the secret,
//! so it answers them itself and the app never has to, nor ever sees one: a challenge is answered
//! only once whatever proves it came from the sender (a verify token, the route's credential, the
//! signature) checks out, and refused otherwise.

use std::time::SystemTime;

use http::{HeaderMap, Method};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Rejection, Secret, SignatureVerifier, Verifier};

/// The longest challenge echoed back; real ones are short random strings.
const MAX_CHALLENGE: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    None,
    /// Dropbox and Nylas: `GET ?challenge=X` must be answered with X as text/plain.
    DropboxChallenge,
    /// X (Twitter) CRC: `GET ?crc_token=X` is answered with `{"response_token":"sha256=<b64 HMAC>"}`.
    TwitterCrc,
    /// Zoom: a signed POST with event `endpoint.url_validation` is answered with the plain token and
    /// its hex HMAC.
    ZoomUrlValidation,
    /// Meta: `GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C` is answered with C as
    /// text/plain when T equals the route's `verify_token`; any other T is refused with 403.
    HubChallenge,
    /// Okta event hooks: a GET with `X-Okta-Verification-Challenge: C` is answered with
    /// `{"verification":"C"}` once the route's token (the Authorization header Okta sends) verifies.
    OktaVerification,
    /// LinkedIn: `GET ?challengeCode=C` is answered with `{"challengeCode":"C",
    /// "challengeResponse":"<hex HMAC-SHA256 of C>"}`.
    LinkedInChallenge,
    /// Twitch EventSub: a signed POST with `Twitch-Eventsub-Message-Type:
    /// webhook_callback_verification` is answered with its `challenge` as text/plain.
    TwitchVerification,
    /// Worldline: a GET with `X-GCS-Webhooks-Endpoint-Verification: C` is answered with C as text/plain.
    WorldlineVerification,
    /// A reachability check answered 200 with an empty body: Trello's HEAD when a webhook is
    /// created, Mailchimp's GET. It carries nothing, so nothing is verified and nothing forwarded.
    Ping {
        get: bool,
        head: bool,
    },
}

pub struct Answer {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// What the handshake phase makes of a request that carries no signature.
pub enum Unsigned {
    /// Not a handshake: the request goes on to be verified as a delivery.
    NotOne,
    Answer(Answer),
    /// A hub challenge whose verify token is missing or wrong: refused, neither answered nor forwarded.
    WrongVerifyToken,
    /// A challenge sent with the route's credential, which failed: refused as a delivery would be.
    Unauthenticated(Rejection),
}

/// The route's `verify_token`, kept as its SHA-256 so it is compared in constant time whatever the
/// candidate's length. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct VerifyToken([u8; 32]);

impl VerifyToken {
    pub fn new(secret: &Secret) -> Self {
        VerifyToken(Sha256::digest(secret.expose()).into())
    }

    fn matches(&self, candidate: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        bool::from(self.0.ct_eq(&digest))
    }
}

impl std::fmt::Debug for VerifyToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifyToken(redacted)")
    }
}

/// A request as the unsigned handshakes see it: its head only, since none of them has a body.
pub struct HandshakeRequest<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    pub query: Option<&'a str>,
    pub verifier: &'a Verifier,
    pub verify_token: Option<&'a VerifyToken>,
    pub now: SystemTime,
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

/// A challenge from the query: present once, non-empty, and short.
fn challenge_param(query: Option<&str>, name: &str) -> Option<String> {
    query_param(query, name).filter(|c| bounded(c))
}

/// A challenge from a header: present once, non-empty, short, and text.
fn challenge_header(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    value
        .to_str()
        .ok()
        .filter(|c| bounded(c))
        .map(str::to_string)
}

fn bounded(challenge: &str) -> bool {
    !challenge.is_empty() && challenge.len() <= MAX_CHALLENGE
}

fn text(body: String) -> Answer {
    Answer {
        content_type: "text/plain",
        body: body.into_bytes(),
    }
}

fn json_answer(value: Value) -> Answer {
    Answer {
        content_type: "application/json",
        body: value.to_string().into_bytes(),
    }
}

fn signature(verifier: &Verifier) -> Option<&SignatureVerifier> {
    match verifier {
        Verifier::Signature(v) => Some(v),
        Verifier::Token(_) | Verifier::Jwt(_) | Verifier::Sns(_) => None,
    }
}

impl Handshake {
    /// Whether the route must hold a `verify_token` for this handshake.
    pub fn needs_verify_token(self) -> bool {
        self == Handshake::HubChallenge
    }

    /// Answers, or refuses, a challenge that carries no signature.
    pub fn answer_unsigned(self, request: &HandshakeRequest<'_>) -> Unsigned {
        let answer = match (self, request.method) {
            (Handshake::Ping { head: true, .. }, &Method::HEAD)
            | (Handshake::Ping { get: true, .. }, &Method::GET) => Some(text(String::new())),
            (_, &Method::GET) => return self.answer_get(request),
            _ => None,
        };
        answer.map_or(Unsigned::NotOne, Unsigned::Answer)
    }

    fn answer_get(self, request: &HandshakeRequest<'_>) -> Unsigned {
        let query = request.query;
        let answer = match self {
            Handshake::DropboxChallenge => challenge_param(query, "challenge").map(text),
            Handshake::TwitterCrc => challenge_param(query, "crc_token").and_then(|token| {
                let mac =
                    signature(request.verifier)?.first_active_mac(token.as_bytes(), request.now)?;
                let encoded = super::Encoding::Base64.encode(&mac);
                Some(json_answer(
                    json!({ "response_token": format!("sha256={encoded}") }),
                ))
            }),
            Handshake::LinkedInChallenge => {
                challenge_param(query, "challengeCode").and_then(|code| {
                    let mac = signature(request.verifier)?
                        .first_active_mac(code.as_bytes(), request.now)?;
                    Some(json_answer(
                        json!({ "challengeCode": code, "challengeResponse": hex::encode(mac) }),
                    ))
                })
            }
            Handshake::WorldlineVerification => {
                challenge_header(request.headers, "x-gcs-webhooks-endpoint-verification").map(text)
            }
            Handshake::HubChallenge => return hub_challenge(request),
            Handshake::OktaVerification => return okta_verification(request),
            Handshake::None
            | Handshake::ZoomUrlValidation
            | Handshake::TwitchVerification
            | Handshake::Ping { .. } => None,
        };
        answer.map_or(Unsigned::NotOne, Unsigned::Answer)
    }

    /// Answers a challenge that arrives as a verified delivery.
    pub fn answer_signed(
        self,
        headers: &HeaderMap,
        body: &crate::body::RawBody,
        verifier: &Verifier,
        now: SystemTime,
    ) -> Option<Answer> {
        match self {
            Handshake::ZoomUrlValidation => zoom_url_validation(body, signature(verifier)?, now),
            Handshake::TwitchVerification => twitch_verification(headers, body),
            _ => None,
        }
    }
}

/// Meta's subscription check. Only `hub.mode=subscribe` with a challenge is one; its token must be
/// the route's, or it is refused (Meta's own sample answers 403).
fn hub_challenge(request: &HandshakeRequest<'_>) -> Unsigned {
    let query = request.query;
    if query_param(query, "hub.mode").as_deref() != Some("subscribe") {
        return Unsigned::NotOne;
    }
    let Some(challenge) = challenge_param(query, "hub.challenge") else {
        return Unsigned::NotOne;
    };
    let token = query_param(query, "hub.verify_token");
    match (request.verify_token, token) {
        (Some(expected), Some(token)) if expected.matches(&token) => {
            Unsigned::Answer(text(challenge))
        }
        _ => Unsigned::WrongVerifyToken,
    }
}

/// Okta sends its one-time check with the same Authorization header as every event, so the route's
/// token is checked before the challenge is echoed.
fn okta_verification(request: &HandshakeRequest<'_>) -> Unsigned {
    let Some(challenge) = challenge_header(request.headers, "x-okta-verification-challenge") else {
        return Unsigned::NotOne;
    };
    let Verifier::Token(token) = request.verifier else {
        return Unsigned::NotOne;
    };
    match token.verify(request.headers, request.query, request.now) {
        Ok(()) => Unsigned::Answer(json_answer(json!({ "verification": challenge }))),
        Err(why) => Unsigned::Unauthenticated(why),
    }
}

fn zoom_url_validation(
    body: &crate::body::RawBody,
    verifier: &SignatureVerifier,
    now: SystemTime,
) -> Option<Answer> {
    let event: Value = serde_json::from_slice(body.contiguous()).ok()?;
    if event.get("event")?.as_str()? != "endpoint.url_validation" {
        return None;
    }
    let plain = event.pointer("/payload/plainToken")?.as_str()?;
    let mac = verifier.first_active_mac(plain.as_bytes(), now)?;
    Some(json_answer(
        json!({ "plainToken": plain, "encryptedToken": hex::encode(mac) }),
    ))
}

/// Twitch marks its challenge in a header; the challenge itself is in the signed body.
fn twitch_verification(headers: &HeaderMap, body: &crate::body::RawBody) -> Option<Answer> {
    let kind = headers.get("twitch-eventsub-message-type")?.as_bytes();
    if kind != b"webhook_callback_verification" {
        return None;
    }
    let event: Value = serde_json::from_slice(body.contiguous()).ok()?;
    let challenge = event.get("challenge")?.as_str()?;
    bounded(challenge).then(|| text(challenge.to_string()))
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

    fn hmac_verifier(secret: &str) -> Verifier {
        let spec = crate::verify::presets::shapes::body_hmac();
        let spec = crate::verify::spec::SchemeSpec {
            header_sets: crate::verify::presets::shapes::sig("X-Sig"),
            ..spec
        };
        Verifier::Signature(
            SignatureVerifier::new(
                spec.scheme().expect("scheme"),
                spec.key_format,
                &[(Secret::new(secret), None)],
            )
            .expect("key"),
        )
    }

    fn ask(
        handshake: Handshake,
        method: Method,
        headers: &HeaderMap,
        query: &str,
        verifier: &Verifier,
        token: Option<&VerifyToken>,
    ) -> Unsigned {
        handshake.answer_unsigned(&HandshakeRequest {
            method: &method,
            headers,
            query: Some(query),
            verifier,
            verify_token: token,
            now: SystemTime::UNIX_EPOCH,
        })
    }

    fn body_of(unsigned: Unsigned) -> Option<(String, &'static str)> {
        match unsigned {
            Unsigned::Answer(a) => Some((String::from_utf8(a.body).expect("utf8"), a.content_type)),
            _ => None,
        }
    }

    #[test]
    fn a_hub_challenge_is_answered_only_with_the_routes_verify_token() {
        let verifier = hmac_verifier("app-secret");
        let token = VerifyToken::new(&Secret::new("meatyhamhock"));
        let empty = HeaderMap::new();
        let hub = |query: &str, token: Option<&VerifyToken>| {
            ask(
                Handshake::HubChallenge,
                Method::GET,
                &empty,
                query,
                &verifier,
                token,
            )
        };
        let good = "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock";
        assert_eq!(
            body_of(hub(good, Some(&token))),
            Some(("1158201444".into(), "text/plain"))
        );
        for refused in [
            "hub.mode=subscribe&hub.challenge=1&hub.verify_token=meatyhamhocks",
            "hub.mode=subscribe&hub.challenge=1&hub.verify_token=",
            "hub.mode=subscribe&hub.challenge=1",
            "hub.mode=subscribe&hub.challenge=1&hub.verify_token=meatyhamhock&hub.verify_token=x",
        ] {
            assert!(
                matches!(hub(refused, Some(&token)), Unsigned::WrongVerifyToken),
                "{refused}"
            );
        }
        assert!(matches!(hub(good, None), Unsigned::WrongVerifyToken));
        assert!(matches!(
            hub("hub.mode=unsubscribe&hub.challenge=1", Some(&token)),
            Unsigned::NotOne
        ));
        let long = format!(
            "hub.mode=subscribe&hub.verify_token=meatyhamhock&hub.challenge={}",
            "x".repeat(MAX_CHALLENGE + 1)
        );
        assert!(matches!(hub(&long, Some(&token)), Unsigned::NotOne));
        assert_eq!(format!("{token:?}"), "VerifyToken(redacted)");
    }

    #[test]
    fn linkedin_is_answered_with_the_hmac_of_the_challenge_code() {
        use hmac::{Hmac, Mac};
        let verifier = hmac_verifier("client-secret");
        let code = "890e4665-4dfe-4ab1-b689-ed553bceeed0";
        let answer = body_of(ask(
            Handshake::LinkedInChallenge,
            Method::GET,
            &HeaderMap::new(),
            &format!("challengeCode={code}"),
            &verifier,
            None,
        ))
        .expect("answered");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"client-secret").expect("key");
        mac.update(code.as_bytes());
        let expected = hex::encode(mac.finalize().into_bytes());
        let json: Value = serde_json::from_str(&answer.0).expect("json");
        assert_eq!(json["challengeCode"], code);
        assert_eq!(json["challengeResponse"], expected.as_str());
    }

    #[test]
    fn okta_is_answered_only_with_the_routes_token() {
        let verifier = Verifier::Token(super::super::TokenVerifier::new(
            super::super::TokenSource::Header(http::header::AUTHORIZATION),
            &[(Secret::new("okta-secret"), None)],
        ));
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-okta-verification-challenge",
            "abc".parse().expect("value"),
        );
        let okta = |headers: &HeaderMap| {
            ask(
                Handshake::OktaVerification,
                Method::GET,
                headers,
                "",
                &verifier,
                None,
            )
        };
        assert!(matches!(
            okta(&headers),
            Unsigned::Unauthenticated(Rejection::MissingSignature)
        ));
        headers.insert(http::header::AUTHORIZATION, "wrong".parse().expect("value"));
        assert!(matches!(
            okta(&headers),
            Unsigned::Unauthenticated(Rejection::SignatureMismatch)
        ));
        headers.insert(
            http::header::AUTHORIZATION,
            "okta-secret".parse().expect("value"),
        );
        assert_eq!(
            body_of(okta(&headers)),
            Some((r#"{"verification":"abc"}"#.into(), "application/json"))
        );
    }

    #[test]
    fn pings_answer_only_their_methods() {
        let verifier = hmac_verifier("s");
        let empty = HeaderMap::new();
        let trello = Handshake::Ping {
            get: false,
            head: true,
        };
        assert_eq!(
            body_of(ask(trello, Method::HEAD, &empty, "", &verifier, None)),
            Some((String::new(), "text/plain"))
        );
        assert!(matches!(
            ask(trello, Method::GET, &empty, "", &verifier, None),
            Unsigned::NotOne
        ));
        assert!(matches!(
            ask(trello, Method::POST, &empty, "", &verifier, None),
            Unsigned::NotOne
        ));
    }

    #[test]
    fn twitch_answers_the_challenge_of_a_verification_message_only() {
        let body = crate::body::RawBody::from(
            &br#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{}}"#[..],
        );
        let verifier = hmac_verifier("s");
        let mut headers = HeaderMap::new();
        let answer = |headers: &HeaderMap| {
            Handshake::TwitchVerification
                .answer_signed(headers, &body, &verifier, SystemTime::UNIX_EPOCH)
                .map(|a| String::from_utf8(a.body).expect("utf8"))
        };
        assert_eq!(answer(&headers), None);
        headers.insert(
            "twitch-eventsub-message-type",
            "notification".parse().expect("value"),
        );
        assert_eq!(answer(&headers), None);
        headers.insert(
            "twitch-eventsub-message-type",
            "webhook_callback_verification".parse().expect("value"),
        );
        assert_eq!(
            answer(&headers).as_deref(),
            Some("pogchamp-kappa-360noscope-vohiyo")
        );
    }
}
