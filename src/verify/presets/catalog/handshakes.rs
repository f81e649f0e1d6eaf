//! Senders that need a setup handshake answered (hub.challenge, JSON and HMAC challenges, pings) or
//! that authenticate with HTTP basic auth. One row per sender, each citing what it was checked against.

use http::Method;

use crate::verify::handshake::Handshake;
use crate::verify::presets::shapes::*;
use crate::verify::presets::{Preset, Spec};
use crate::verify::scheme::{Algorithm, Encoding, TimeUnit};
use crate::verify::spec::SchemeSpec;
use crate::verify::Field;

const POST_HEAD: &[Method] = &[Method::POST, Method::HEAD];

/// A row that verifies with a token or basic auth rather than a signature.
fn credential(name: &'static str, description: &'static str, spec: Spec) -> Preset {
    Preset {
        name,
        description,
        spec,
        methods: POST,
        event: None,
        delivery_id: None,
        handshake: Handshake::None,
    }
}

/// A handshake row whose methods are not POST and GET (a HEAD ping, a signed POST challenge).
fn with_methods(mut preset: Preset, methods: &'static [Method]) -> Preset {
    preset.methods = methods;
    preset
}

pub(in crate::verify::presets) fn rows() -> Vec<Preset> {
    vec![
    // developers.facebook.com/docs/graph-api/webhooks/getting-started: GET hub.mode=subscribe,
    // hub.challenge, hub.verify_token (echo the challenge when the token matches; Meta's sample app
    // answers 403 otherwise); events carry X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the
    // body> under the app secret. Facebook, Instagram, WhatsApp Cloud API and Messenger share it.
    with_event(
        with_handshake(
            preset("meta", "Meta (Facebook, Instagram, WhatsApp, Messenger): X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>; answers the hub.challenge with the route's verify_token",
                SchemeSpec { header_sets: sig("X-Hub-Signature-256"), format: whole(&["sha256="]), ..body_hmac() }),
            Handshake::HubChallenge),
        Field::Json("/object"), None),
    // dev.twitch.tv/docs/eventsub/handling-webhook-events: HMAC-SHA256 over message id + timestamp
    // + body, `sha256=<hex>`, RFC 3339 timestamp, messages older than 10 minutes refused; the
    // `webhook_callback_verification` message is answered with its `challenge` as text/plain.
    with_event(
        with_methods(
            with_handshake(
                preset("twitch", "Twitch EventSub: Twitch-Eventsub-Message-Signature: sha256=<hex> over {id}{timestamp}{body}; 600 s; answers webhook_callback_verification",
                    SchemeSpec {
                        header_sets: vec![headers(
                            &["Twitch-Eventsub-Message-Signature"],
                            Some("Twitch-Eventsub-Message-Timestamp"),
                            Some("Twitch-Eventsub-Message-Id"),
                        )],
                        format: whole(&["sha256="]),
                        template: "{id}{timestamp}{body}".into(),
                        timestamp: header_stamp(TimeUnit::Rfc3339, Some(600), true),
                        ..body_hmac()
                    }),
                Handshake::TwitchVerification),
            POST),
        Field::Header("Twitch-Eventsub-Subscription-Type"), Some(Field::Header("Twitch-Eventsub-Message-Id"))),
    // developer.okta.com/docs/concepts/event-hooks: no signature; the admin sets an Authorization
    // header value that Okta sends on every call (the Okta Terraform/Pulumi `auth: {type: HEADER,
    // key: Authorization}`), and the one-time GET verification carries X-Okta-Verification-Challenge,
    // answered with {"verification": <value>}.
    Preset {
        methods: POST_GET,
        handshake: Handshake::OktaVerification,
        ..credential("okta", "Okta event hooks: Authorization: <the secret header value>, compared in constant time; answers the one-time verification",
            Spec::HeaderToken("Authorization"))
    },
    // developer.nylas.com/docs/v3/notifications/webhooks: GET ?challenge= echoed as the body;
    // x-nylas-signature: hex HMAC-SHA256 of the body under the webhook secret.
    with_event(
        with_handshake(
            preset("nylas", "Nylas v3: X-Nylas-Signature: <hex HMAC-SHA256 of the body>; answers the GET challenge",
                SchemeSpec { header_sets: sig("X-Nylas-Signature"), ..body_hmac() }),
            Handshake::DropboxChallenge),
        Field::Json("/type"), Some(Field::Json("/id"))),
    // learn.microsoft.com/linkedin/shared/api-guide/webhook-validation: GET ?challengeCode= answered
    // with challengeResponse = hex HMAC-SHA256(challengeCode, clientSecret);
    // learn.microsoft.com/linkedin/talent/apply-connect/receive-applications: X-LI-Signature:
    // hmacsha256=<hex HMAC-SHA256> of "the escaped Unicode version of the request payload", which is
    // the JSON body as LinkedIn sends it (non-ASCII written as \uXXXX), so the raw bytes are verified.
    with_handshake(
        preset("linkedin", "LinkedIn: X-LI-Signature: hmacsha256=<hex HMAC-SHA256 of the body>; answers the challengeCode",
            SchemeSpec { header_sets: sig("X-LI-Signature"), format: whole(&["hmacsha256="]), ..body_hmac() }),
        Handshake::LinkedInChallenge),
    // mailchimp.com/developer/marketing/guides/sync-audience-data-with-webhooks: Mailchimp signs
    // nothing, validates the URL with a GET that must answer 200, and advises a secret in the URL's
    // query string: hookguard reads it from `?secret=` and removes it before forwarding.
    Preset {
        methods: POST_GET,
        handshake: Handshake::Ping { get: true, head: false },
        ..credential("mailchimp", "Mailchimp (Marketing): ?secret=<the token> in the webhook URL, compared in constant time; answers the GET validation",
            Spec::QueryToken("secret"))
    },
    // developer.atlassian.com/cloud/trello/guides/rest-api/webhooks: HEAD to the callbackURL at
    // creation must answer 200; X-Trello-Webhook: base64 HMAC-SHA1 of the body followed by the
    // callbackURL exactly as registered, under the application secret.
    with_methods(
        with_handshake(
            preset("trello", "Trello: X-Trello-Webhook: <b64 HMAC-SHA1> over body + public_url; needs public_url; answers the HEAD check",
                SchemeSpec {
                    algorithm: Algorithm::HmacSha1,
                    encoding: Encoding::Base64,
                    header_sets: sig("X-Trello-Webhook"),
                    template: "{body}{url}".into(),
                    ..body_hmac()
                }),
            Handshake::Ping { get: false, head: true }),
        POST_HEAD),
    // postmarkapp.com/developer/webhooks/webhooks-overview: no signature; basic HTTP authentication
    // with the user name and password written into the webhook URL (or the API's HttpAuth).
    credential("postmark", "Postmark: Authorization: Basic <user:pass>, compared in constant time",
        Spec::BasicAuth),
    // apidocs.chargebee.com "Create a webhook endpoint": basic_auth_username / basic_auth_password
    // secure the delivery; chargebee.com/docs/2.0/webhook_settings.html; no signature.
    credential("chargebee", "Chargebee: Authorization: Basic <user:pass>, compared in constant time",
        Spec::BasicAuth),
    // Pipedrive's API reference "Add a new webhook" (its OpenAPI, as generated into pipedrive-rs
    // AddWebhookRequest) and pipedrive.readme.io "Guide for webhooks": http_auth_user /
    // http_auth_password, the endpoint's HTTP basic auth; no signature.
    credential("pipedrive", "Pipedrive: Authorization: Basic <user:pass>, compared in constant time",
        Spec::BasicAuth),
    // docs.connect.worldline-solutions.com/documentation/webhooks (and event-structure): answer a GET
    // by echoing X-GCS-Webhooks-Endpoint-Verification; X-GCS-Signature is the HMAC-SHA256 of the
    // body, base64, under the secret named by X-GCS-KeyId (every route secret is tried).
    with_event(
        with_handshake(
            preset("worldline", "Worldline (Connect, Direct): X-GCS-Signature: <b64 HMAC-SHA256 of the body>; answers the GET endpoint verification",
                SchemeSpec { encoding: Encoding::Base64, header_sets: sig("X-GCS-Signature"), ..body_hmac() }),
            Handshake::WorldlineVerification),
        Field::Json("/type"), Some(Field::Json("/id"))),
    ]
}
