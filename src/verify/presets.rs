//! Provider presets as data. A preset names a scheme and its parameters, its default methods, where
//! the provider puts the event type and delivery id, and any setup handshake. Adding a sender that
//! fits an existing shape is one row. Each row cites the documentation or SDK it was checked against.

use std::time::Duration;

use http::{HeaderName, Method};

use super::handshake::Handshake;
use super::keys::KeyFormat;
use super::scheme::{
    Algorithm, Encoding, HeaderSet, Scheme, SignatureFormat, Template, TimeUnit, TimestampRule,
    TimestampSource,
};
use super::{Field, TokenSource};

/// One set of headers, as static data.
#[derive(Debug, Clone, Copy)]
pub struct Headers {
    pub signatures: &'static [&'static str],
    pub timestamp: Option<&'static str>,
    pub id: Option<&'static str>,
}

/// One signature header and nothing else, the commonest shape.
macro_rules! sig {
    ($name:literal) => {
        &[Headers {
            signatures: &[$name],
            timestamp: None,
            id: None,
        }]
    };
}

#[derive(Debug, Clone, Copy)]
pub enum Format {
    Whole(&'static [&'static str]),
    List(char, &'static [&'static str]),
    Fields {
        separator: char,
        signatures: &'static [&'static str],
        timestamp: Option<&'static str>,
    },
}

#[derive(Debug, Clone, Copy)]
pub enum Stamp {
    Header,
    Field,
    Json(&'static str),
}

#[derive(Debug, Clone, Copy)]
pub struct Timestamp {
    pub source: Stamp,
    pub unit: TimeUnit,
    /// `None`: the timestamp is signed but the provider sets no freshness window (a route's
    /// `tolerance` can add one).
    pub tolerance_s: Option<u64>,
    pub reject_future: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct SignatureSpec {
    pub algorithm: Algorithm,
    pub encoding: Encoding,
    pub key_format: KeyFormat,
    pub headers: &'static [Headers],
    pub signature_in_body: Option<&'static str>,
    pub format: Format,
    pub template: &'static str,
    pub timestamp: Option<Timestamp>,
    pub body_sha256_param: Option<&'static str>,
}

#[derive(Debug, Clone, Copy)]
pub enum Spec {
    Signature(SignatureSpec),
    HeaderToken(&'static str),
}

#[derive(Debug)]
pub struct Preset {
    pub name: &'static str,
    pub description: &'static str,
    pub spec: Spec,
    pub methods: &'static [Method],
    pub event: Option<Field>,
    pub delivery_id: Option<Field>,
    pub handshake: Handshake,
}

use Algorithm::{EcdsaP256Sha256, Ed25519, HmacSha1, HmacSha256, HmacSha512};
use Encoding::{Base64, Hex};

/// HMAC-SHA256 over the raw body, hex, in one header: the shape most rows start from.
const BODY_HMAC: SignatureSpec = SignatureSpec {
    algorithm: HmacSha256,
    encoding: Hex,
    key_format: KeyFormat::Raw,
    headers: &[],
    signature_in_body: None,
    format: Format::Whole(&[]),
    template: "{body}",
    timestamp: None,
    body_sha256_param: None,
};

/// Standard Webhooks: `{id}.{timestamp}.{body}`, `v1,<b64>` list, `whsec_` keys, ±5 min.
const STANDARD_WEBHOOKS: SignatureSpec = SignatureSpec {
    encoding: Base64,
    key_format: KeyFormat::Whsec,
    headers: &[WEBHOOK_HEADERS],
    format: Format::List(' ', &["v1,"]),
    template: "{id}.{timestamp}.{body}",
    timestamp: Some(Timestamp {
        source: Stamp::Header,
        unit: TimeUnit::Seconds,
        tolerance_s: Some(300),
        reject_future: true,
    }),
    ..BODY_HMAC
};
const WEBHOOK_HEADERS: Headers = Headers {
    signatures: &["webhook-signature"],
    timestamp: Some("webhook-timestamp"),
    id: Some("webhook-id"),
};
const SVIX_HEADERS: Headers = Headers {
    signatures: &["svix-signature"],
    timestamp: Some("svix-timestamp"),
    id: Some("svix-id"),
};

const fn header_stamp(
    unit: TimeUnit,
    tolerance_s: Option<u64>,
    reject_future: bool,
) -> Option<Timestamp> {
    Some(Timestamp {
        source: Stamp::Header,
        unit,
        tolerance_s,
        reject_future,
    })
}

const fn field_stamp(unit: TimeUnit, tolerance_s: u64, reject_future: bool) -> Option<Timestamp> {
    Some(Timestamp {
        source: Stamp::Field,
        unit,
        tolerance_s: Some(tolerance_s),
        reject_future,
    })
}

const fn stripe_like(
    separator: char,
    signature: &'static [&'static str],
    timestamp: &'static str,
) -> Format {
    Format::Fields {
        separator,
        signatures: signature,
        timestamp: Some(timestamp),
    }
}

const POST: &[Method] = &[Method::POST];
const POST_GET: &[Method] = &[Method::POST, Method::GET];

const fn preset(name: &'static str, description: &'static str, spec: SignatureSpec) -> Preset {
    Preset {
        name,
        description,
        spec: Spec::Signature(spec),
        methods: POST,
        event: None,
        delivery_id: None,
        handshake: Handshake::None,
    }
}

const fn with_event(mut preset: Preset, event: Field, delivery_id: Option<Field>) -> Preset {
    preset.event = Some(event);
    preset.delivery_id = delivery_id;
    preset
}

const fn with_handshake(mut preset: Preset, handshake: Handshake) -> Preset {
    preset.handshake = handshake;
    preset.methods = POST_GET;
    preset
}

pub const PRESETS: &[Preset] = &[
    // --- The mission's providers (shared/seeds) ---
    // DriveWidget docs, "Verifying authenticity" (seeds/000).
    with_event(
        preset("drivewidget", "DriveWidget: X-DriveWidget-Signature: sha256=<hex HMAC-SHA256 of the body>",
            SignatureSpec { headers: sig!("X-DriveWidget-Signature"), format: Format::Whole(&["sha256="]), ..BODY_HMAC }),
        Field::Json("/event"), None),
    // Form widget "Webhook Integration: Signature Validation" (seeds/002); its format line is cut, so
    // the common `sha256=` prefix is accepted as well as bare hex.
    preset("x-signature", "Form widget: X-Signature: <hex HMAC-SHA256 of the body>; sha256= prefix also accepted",
        SignatureSpec { headers: sig!("X-Signature"), format: Format::Whole(&["sha256=", ""]), ..BODY_HMAC }),
    // Filedgr docs, "Webhook Security: Signature Verification" (seeds/004). The event type and id are
    // read from the signed body's `eventType` and `eventId`, not the unsigned X-Filedgr-Event-* headers.
    with_event(
        preset("filedgr", "Filedgr: X-Filedgr-Signature: <hex HMAC-SHA256 of the body>",
            SignatureSpec { headers: sig!("X-Filedgr-Signature"), ..BODY_HMAC }),
        Field::Json("/eventType"), Some(Field::Json("/eventId"))),
    // Uploadcare REST API reference, "Webhooks: Signed webhooks" (seeds/003).
    with_event(
        preset("uploadcare", "Uploadcare: X-Uc-Signature: v1=<hex HMAC-SHA256 of the body>",
            SignatureSpec { headers: sig!("X-Uc-Signature"), format: Format::Whole(&["v1="]), ..BODY_HMAC }),
        Field::Json("/hook/event"), None),

    // --- The providers everyone uses ---
    // docs.github.com, "Validating webhook deliveries"; @octokit/webhooks-methods sign().
    with_event(
        preset("github", "GitHub: X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>",
            SignatureSpec { headers: sig!("X-Hub-Signature-256"), format: Format::Whole(&["sha256="]), ..BODY_HMAC }),
        Field::Header("X-GitHub-Event"), Some(Field::Header("X-GitHub-Delivery"))),
    // stripe-python WebhookSignature: t=<unix>,v1=<hex>[,v1=...] over "{t}.{body}", 300 s, old only;
    // the whsec_ secret is used verbatim.
    with_event(
        preset("stripe", "Stripe: Stripe-Signature: t=<unix>,v1=<hex> over {t}.{body}; 300 s",
            SignatureSpec {
                headers: sig!("Stripe-Signature"),
                format: stripe_like(',', &["v1"], "t"),
                template: "{timestamp}.{body}",
                timestamp: field_stamp(TimeUnit::Seconds, 300, false),
                ..BODY_HMAC
            }),
        Field::Json("/type"), Some(Field::Json("/id"))),
    // api.slack.com "Verifying requests from Slack"; slack_sdk SignatureVerifier: v0:{ts}:{body}, ±300 s.
    with_event(
        preset("slack", "Slack: X-Slack-Signature: v0=<hex> over v0:{ts}:{body}, X-Slack-Request-Timestamp; ±300 s",
            SignatureSpec {
                headers: &[Headers { signatures: &["X-Slack-Signature"], timestamp: Some("X-Slack-Request-Timestamp"), id: None }],
                format: Format::Whole(&["v0="]),
                template: "v0:{timestamp}:{body}",
                timestamp: header_stamp(TimeUnit::Seconds, Some(300), true),
                ..BODY_HMAC
            }),
        Field::Json("/type"), None),
    // shopify.dev "About webhooks: verify"; base64 HMAC-SHA256 of the body.
    with_event(
        preset("shopify", "Shopify: X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>",
            SignatureSpec { headers: sig!("X-Shopify-Hmac-Sha256"), encoding: Base64, ..BODY_HMAC }),
        Field::Header("X-Shopify-Topic"), Some(Field::Header("X-Shopify-Webhook-Id"))),
    // standardwebhooks.com spec and the `standardwebhooks` SDK.
    with_event(
        preset("standard-webhooks", "Standard Webhooks: webhook-signature: v1,<b64> over {id}.{ts}.{body}; whsec_ key; ±300 s",
            STANDARD_WEBHOOKS),
        Field::Json("/type"), Some(Field::Header("webhook-id"))),
    // docs.svix.com "Verifying payloads manually"; the `svix` SDK. svix-* headers, webhook-* accepted too.
    with_event(
        preset("svix", "Svix: svix-signature: v1,<b64> over {id}.{ts}.{body}; whsec_ key; ±300 s",
            SignatureSpec { headers: &[SVIX_HEADERS, WEBHOOK_HEADERS], ..STANDARD_WEBHOOKS }),
        Field::Json("/type"), Some(Field::Header("svix-id"))),
    // clerk.com "Webhooks: verify" (delivered through Svix).
    with_event(
        preset("clerk", "Clerk: Svix headers and scheme; whsec_ key",
            SignatureSpec { headers: &[SVIX_HEADERS, WEBHOOK_HEADERS], ..STANDARD_WEBHOOKS }),
        Field::Json("/type"), Some(Field::Header("svix-id"))),
    // resend.com "Verify webhooks requests" (delivered through Svix).
    with_event(
        preset("resend", "Resend: Svix headers and scheme; whsec_ key",
            SignatureSpec { headers: &[SVIX_HEADERS, WEBHOOK_HEADERS], ..STANDARD_WEBHOOKS }),
        Field::Json("/type"), Some(Field::Header("svix-id"))),
    // twilio-python RequestValidator: base64 HMAC-SHA1 of the URL plus sorted form fields; JSON bodies
    // are covered by a bodySHA256 query parameter instead.
    with_event(
        preset("twilio", "Twilio: X-Twilio-Signature: <b64 HMAC-SHA1> over public_url + sorted form fields; needs public_url",
            SignatureSpec {
                algorithm: HmacSha1,
                encoding: Base64,
                headers: sig!("X-Twilio-Signature"),
                template: "{url}{form_params}",
                body_sha256_param: Some("bodySHA256"),
                ..BODY_HMAC
            }),
        Field::Json("/type"), Some(Field::Header("I-Twilio-Idempotency-Token"))),
    // developer.paddle.com "Verify webhook signatures": ts=<unix>;h1=<hex> over "{ts}:{body}"; the
    // SDKs allow 5 s.
    with_event(
        preset("paddle", "Paddle: Paddle-Signature: ts=<unix>;h1=<hex> over {ts}:{body}; 5 s",
            SignatureSpec {
                headers: sig!("Paddle-Signature"),
                format: stripe_like(';', &["h1"], "ts"),
                template: "{timestamp}:{body}",
                timestamp: field_stamp(TimeUnit::Seconds, 5, true),
                ..BODY_HMAC
            }),
        Field::Json("/event_type"), Some(Field::Json("/event_id"))),
    // developers.zoom.us "Using webhooks: verify webhook events" and "validate your webhook endpoint".
    with_event(
        with_handshake(
            preset("zoom", "Zoom: x-zm-signature: v0=<hex> over v0:{ts}:{body}; answers endpoint.url_validation",
                SignatureSpec {
                    headers: &[Headers { signatures: &["x-zm-signature"], timestamp: Some("x-zm-request-timestamp"), id: None }],
                    format: Format::Whole(&["v0="]),
                    template: "v0:{timestamp}:{body}",
                    timestamp: header_stamp(TimeUnit::Seconds, Some(300), true),
                    ..BODY_HMAC
                }),
            Handshake::ZoomUrlValidation),
        Field::Json("/event"), None),
    // linear.app/developers/webhooks: hex HMAC of the body; webhookTimestamp (ms) in the body, ±60 s.
    with_event(
        preset("linear", "Linear: Linear-Signature: <hex HMAC-SHA256 of the body>; webhookTimestamp (ms) within 60 s",
            SignatureSpec {
                headers: sig!("Linear-Signature"),
                timestamp: Some(Timestamp { source: Stamp::Json("/webhookTimestamp"), unit: TimeUnit::Millis, tolerance_s: Some(60), reject_future: true }),
                ..BODY_HMAC
            }),
        Field::Json("/type"), Some(Field::Header("Linear-Delivery"))),
    // developers.intercom.com "Webhooks: signed notifications": X-Hub-Signature sha1=<hex>.
    with_event(
        preset("intercom", "Intercom: X-Hub-Signature: sha1=<hex HMAC-SHA1 of the body>",
            SignatureSpec { algorithm: HmacSha1, headers: sig!("X-Hub-Signature"), format: Format::Whole(&["sha1="]), ..BODY_HMAC }),
        Field::Json("/topic"), Some(Field::Json("/id"))),
    // documentation.mailgun.com "Securing webhooks": HMAC of timestamp+token, in the JSON body. The
    // body itself is NOT covered by Mailgun's signature; the timestamp window limits replays.
    with_event(
        preset("mailgun", "Mailgun: signature.signature in the JSON body, hex HMAC of timestamp+token (body not covered); 300 s",
            SignatureSpec {
                signature_in_body: Some("/signature/signature"),
                template: "{json:/signature/timestamp}{json:/signature/token}",
                timestamp: Some(Timestamp { source: Stamp::Json("/signature/timestamp"), unit: TimeUnit::Seconds, tolerance_s: Some(300), reject_future: true }),
                ..BODY_HMAC
            }),
        Field::Json("/event-data/event"), Some(Field::Json("/event-data/id"))),
    // docs.sendgrid.com "Getting started with the Event Webhook security features": ECDSA P-256 over
    // timestamp+body; the verification key is base64 DER.
    preset("sendgrid", "SendGrid: X-Twilio-Email-Event-Webhook-Signature: <b64 ECDSA P-256> over {ts}{body}; public key",
        SignatureSpec {
            algorithm: EcdsaP256Sha256,
            encoding: Base64,
            key_format: KeyFormat::Base64Der,
            headers: &[Headers {
                signatures: &["X-Twilio-Email-Event-Webhook-Signature"],
                timestamp: Some("X-Twilio-Email-Event-Webhook-Timestamp"),
                id: None,
            }],
            template: "{timestamp}{body}",
            timestamp: header_stamp(TimeUnit::Seconds, None, false),
            ..BODY_HMAC
        }),
    // discord.com/developers "Interactions: security and authorization": Ed25519 over timestamp+body.
    preset("discord", "Discord: X-Signature-Ed25519: <hex Ed25519> over {ts}{body}; hex public key",
        SignatureSpec {
            algorithm: Ed25519,
            key_format: KeyFormat::Hex,
            headers: &[Headers { signatures: &["X-Signature-Ed25519"], timestamp: Some("X-Signature-Timestamp"), id: None }],
            template: "{timestamp}{body}",
            timestamp: header_stamp(TimeUnit::Seconds, None, false),
            ..BODY_HMAC
        }),
    // docs.gitlab.com "Webhooks: validate payloads by using a secret token".
    Preset {
        name: "gitlab",
        description: "GitLab: X-Gitlab-Token: <the secret token>, compared in constant time",
        spec: Spec::HeaderToken("X-Gitlab-Token"),
        methods: POST,
        event: Some(Field::Header("X-Gitlab-Event")),
        delivery_id: Some(Field::Header("X-Gitlab-Event-UUID")),
        handshake: Handshake::None,
    },
    // developer.squareup.com "Validate notifications": base64 HMAC-SHA256 of notification URL + body.
    with_event(
        preset("square", "Square: x-square-hmacsha256-signature: <b64 HMAC-SHA256> over public_url + body; needs public_url",
            SignatureSpec { encoding: Base64, headers: sig!("x-square-hmacsha256-signature"), template: "{url}{body}", ..BODY_HMAC }),
        Field::Json("/type"), Some(Field::Json("/event_id"))),
    // developer.pagerduty.com "Verifying signatures": v1=<hex>[,v1=<hex>] during rotation.
    with_event(
        preset("pagerduty", "PagerDuty: X-PagerDuty-Signature: v1=<hex>[,v1=<hex>] over the body",
            SignatureSpec { headers: sig!("X-PagerDuty-Signature"), format: Format::List(',', &["v1="]), ..BODY_HMAC }),
        Field::Json("/event/event_type"), Some(Field::Json("/event/id"))),
    // typeform.com/developers "Webhooks: secure your webhooks": sha256=<base64>.
    with_event(
        preset("typeform", "Typeform: Typeform-Signature: sha256=<b64 HMAC-SHA256 of the body>",
            SignatureSpec { encoding: Base64, headers: sig!("Typeform-Signature"), format: Format::Whole(&["sha256="]), ..BODY_HMAC }),
        Field::Json("/event_type"), Some(Field::Json("/event_id"))),
    // developer.calendly.com "Webhook signatures": t=<unix>,v1=<hex> over "{t}.{body}", 3 min.
    with_event(
        preset("calendly", "Calendly: Calendly-Webhook-Signature: t=<unix>,v1=<hex> over {t}.{body}; 180 s",
            SignatureSpec {
                headers: sig!("Calendly-Webhook-Signature"),
                format: stripe_like(',', &["v1"], "t"),
                template: "{timestamp}.{body}",
                timestamp: field_stamp(TimeUnit::Seconds, 180, true),
                ..BODY_HMAC
            }),
        Field::Json("/event"), None),
    // developers.hubspot.com "Validating requests" v3: method+uri+body+timestamp, ms, 5 min old only.
    preset("hubspot", "HubSpot v3: X-HubSpot-Signature-v3: <b64> over method+public_url+body+ts (ms); 300 s; needs public_url",
        SignatureSpec {
            encoding: Base64,
            headers: &[Headers { signatures: &["X-HubSpot-Signature-v3"], timestamp: Some("X-HubSpot-Request-Timestamp"), id: None }],
            template: "{method}{url_hubspot}{body}{timestamp}",
            timestamp: header_stamp(TimeUnit::Millis, Some(300), false),
            ..BODY_HMAC
        }),
    // dropbox.com/developers/reference/webhooks: hex HMAC of the body; GET ?challenge= echo.
    with_handshake(
        preset("dropbox", "Dropbox: X-Dropbox-Signature: <hex HMAC-SHA256 of the body>; answers the GET challenge",
            SignatureSpec { headers: sig!("X-Dropbox-Signature"), ..BODY_HMAC }),
        Handshake::DropboxChallenge),
    // developer.box.com "Signature verification" (webhooks v2): base64 HMAC of body+timestamp, two
    // keys in PRIMARY and SECONDARY headers, RFC 3339 timestamp within 10 minutes.
    with_event(
        preset("box", "Box: BOX-SIGNATURE-PRIMARY/-SECONDARY: <b64> over {body}{ts}, BOX-DELIVERY-TIMESTAMP RFC 3339; 600 s",
            SignatureSpec {
                encoding: Base64,
                headers: &[Headers {
                    signatures: &["BOX-SIGNATURE-PRIMARY", "BOX-SIGNATURE-SECONDARY"],
                    timestamp: Some("BOX-DELIVERY-TIMESTAMP"),
                    id: None,
                }],
                template: "{body}{timestamp}",
                timestamp: header_stamp(TimeUnit::Rfc3339, Some(600), true),
                ..BODY_HMAC
            }),
        Field::Json("/trigger"), Some(Field::Header("BOX-DELIVERY-ID"))),
    // support.atlassian.com "Manage webhooks" (Bitbucket Cloud): X-Hub-Signature sha256=<hex>.
    with_event(
        preset("bitbucket", "Bitbucket: X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>",
            SignatureSpec { headers: sig!("X-Hub-Signature"), format: Format::Whole(&["sha256="]), ..BODY_HMAC }),
        Field::Header("X-Event-Key"), Some(Field::Header("X-Request-UUID"))),

    // --- More senders with documented schemes (shared/providers.md, batches A and B) ---
    // developer.atlassian.com "Jira webhooks: secure admin webhooks".
    with_event(
        preset("jira", "Jira: X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>",
            SignatureSpec { headers: sig!("X-Hub-Signature"), format: Format::Whole(&["sha256="]), ..BODY_HMAC }),
        Field::Json("/webhookEvent"), None),
    // developer.x.com account activity API "Securing webhooks": sha256=<b64>, CRC challenge.
    with_handshake(
        preset("twitter", "X (Twitter): x-twitter-webhooks-signature: sha256=<b64>; answers the CRC challenge",
            SignatureSpec { encoding: Base64, headers: sig!("x-twitter-webhooks-signature"), format: Format::Whole(&["sha256="]), ..BODY_HMAC }),
        Handshake::TwitterCrc),
    // devcenter.heroku.com "App webhooks: securing webhook requests".
    with_event(
        preset("heroku", "Heroku: Heroku-Webhook-Hmac-SHA256: <b64 HMAC-SHA256 of the body>",
            SignatureSpec { encoding: Base64, headers: sig!("Heroku-Webhook-Hmac-SHA256"), ..BODY_HMAC }),
        Field::Json("/action"), Some(Field::Header("Heroku-Webhook-Id"))),
    // docs.launchdarkly.com "Webhooks: signing webhooks".
    preset("launchdarkly", "LaunchDarkly: X-LD-Signature: <hex HMAC-SHA256 of the body>",
        SignatureSpec { headers: sig!("X-LD-Signature"), ..BODY_HMAC }),
    // razorpay.com/docs "Validate webhooks".
    with_event(
        preset("razorpay", "Razorpay: X-Razorpay-Signature: <hex HMAC-SHA256 of the body>",
            SignatureSpec { headers: sig!("X-Razorpay-Signature"), ..BODY_HMAC }),
        Field::Json("/event"), Some(Field::Header("x-razorpay-event-id"))),
    // docs.lemonsqueezy.com "Signing requests".
    with_event(
        preset("lemon-squeezy", "Lemon Squeezy: X-Signature: <hex HMAC-SHA256 of the body>",
            SignatureSpec { headers: sig!("X-Signature"), ..BODY_HMAC }),
        Field::Json("/meta/event_name"), None),
    // circleci.com/docs/webhooks "Secret token and signature verification".
    with_event(
        preset("circleci", "CircleCI: circleci-signature: v1=<hex>[,...] over the body",
            SignatureSpec { headers: sig!("circleci-signature"), format: Format::List(',', &["v1="]), ..BODY_HMAC }),
        Field::Json("/type"), Some(Field::Json("/id"))),
    // docs.sentry.io "Integration platform webhooks: verifying the signature".
    with_event(
        preset("sentry", "Sentry: Sentry-Hook-Signature: <hex HMAC-SHA256 of the body>",
            SignatureSpec { headers: sig!("Sentry-Hook-Signature"), ..BODY_HMAC }),
        Field::Header("Sentry-Hook-Resource"), None),
    // developer.hashicorp.com "Notification configurations: notification authenticity".
    preset("terraform", "Terraform Cloud: X-TFE-Notification-Signature: <hex HMAC-SHA512 of the body>",
        SignatureSpec { algorithm: HmacSha512, headers: sig!("X-TFE-Notification-Signature"), ..BODY_HMAC }),
    // developer.webex.com "Using a webhook secret".
    preset("webex", "Webex: X-Spark-Signature: <hex HMAC-SHA1 of the body>",
        SignatureSpec { algorithm: HmacSha1, headers: sig!("X-Spark-Signature"), ..BODY_HMAC }),
    // workos-node src/webhooks: t=<ms>, v1=<hex> over "{t}.{body}", 180 s.
    with_event(
        preset("workos", "WorkOS: WorkOS-Signature: t=<ms>, v1=<hex> over {t}.{body}; 180 s",
            SignatureSpec {
                headers: sig!("WorkOS-Signature"),
                format: stripe_like(',', &["v1"], "t"),
                template: "{timestamp}.{body}",
                timestamp: field_stamp(TimeUnit::Millis, 180, true),
                ..BODY_HMAC
            }),
        Field::Json("/event"), Some(Field::Json("/id"))),
    // replicate.com/docs "Verify webhooks" (Standard Webhooks).
    preset("replicate", "Replicate: Standard Webhooks headers and scheme; whsec_ key", STANDARD_WEBHOOKS),
    // next.developer.frame.io "Webhooks: signature verification": v0=<hex> over v0:{ts}:{body}.
    preset("frameio", "Frame.io: X-Frameio-Signature: v0=<hex> over v0:{ts}:{body}; 300 s",
        SignatureSpec {
            headers: &[Headers { signatures: &["X-Frameio-Signature"], timestamp: Some("X-Frameio-Request-Timestamp"), id: None }],
            format: Format::Whole(&["v0="]),
            template: "v0:{timestamp}:{body}",
            timestamp: header_stamp(TimeUnit::Seconds, Some(300), true),
            ..BODY_HMAC
        }),
    // mux.com/docs "Verify webhook signatures": t=<unix>,v1=<hex> over "{t}.{body}".
    with_event(
        preset("mux", "Mux: mux-signature: t=<unix>,v1=<hex> over {t}.{body}; 300 s",
            SignatureSpec {
                headers: sig!("mux-signature"),
                format: stripe_like(',', &["v1"], "t"),
                template: "{timestamp}.{body}",
                timestamp: field_stamp(TimeUnit::Seconds, 300, true),
                ..BODY_HMAC
            }),
        Field::Json("/type"), Some(Field::Json("/id"))),
    // developer.xero.com "Configuring your server": base64 HMAC-SHA256 of the body. The
    // intent-to-receive check is answered by our normal 2xx/401.
    preset("xero", "Xero: x-xero-signature: <b64 HMAC-SHA256 of the body>",
        SignatureSpec { encoding: Base64, headers: sig!("x-xero-signature"), ..BODY_HMAC }),
    // developer.zendesk.com "Verifying webhook authenticity": base64 HMAC of timestamp+body.
    preset("zendesk", "Zendesk: X-Zendesk-Webhook-Signature: <b64> over {ts}{body}",
        SignatureSpec {
            encoding: Base64,
            headers: &[Headers {
                signatures: &["X-Zendesk-Webhook-Signature"],
                timestamp: Some("X-Zendesk-Webhook-Signature-Timestamp"),
                id: None,
            }],
            template: "{timestamp}{body}",
            timestamp: header_stamp(TimeUnit::Rfc3339, None, false),
            ..BODY_HMAC
        }),
    // docs.alchemy.com "Notify API FAQ: validate signatures".
    preset("alchemy", "Alchemy: X-Alchemy-Signature: <hex HMAC-SHA256 of the body>",
        SignatureSpec { headers: sig!("X-Alchemy-Signature"), ..BODY_HMAC }),
    // coinbase-commerce-php src/Webhook.php.
    preset("coinbase-commerce", "Coinbase Commerce: X-CC-Webhook-Signature: <hex HMAC-SHA256 of the body>",
        SignatureSpec { headers: sig!("X-CC-Webhook-Signature"), ..BODY_HMAC }),
    // developers.docusign.com "Connect: HMAC security": one base64 header per active key.
    preset("docusign", "DocuSign Connect: X-DocuSign-Signature-1/-2: <b64 HMAC-SHA256 of the body>",
        SignatureSpec {
            encoding: Base64,
            headers: &[Headers { signatures: &["X-DocuSign-Signature-1", "X-DocuSign-Signature-2"], timestamp: None, id: None }],
            ..BODY_HMAC
        }),
];

pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|preset| preset.name == name)
}

impl Timestamp {
    fn rule(&self) -> TimestampRule {
        TimestampRule {
            source: match self.source {
                Stamp::Header => TimestampSource::Header,
                Stamp::Field => TimestampSource::SignatureField,
                Stamp::Json(pointer) => TimestampSource::Json(pointer.to_string()),
            },
            unit: self.unit,
            tolerance: self.tolerance_s.map(Duration::from_secs),
            reject_future: self.reject_future,
        }
    }
}

fn header_name(name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("{name:?} is not a header name"))
}

impl SignatureSpec {
    /// The runtime scheme this row describes.
    pub fn scheme(&self) -> Result<Scheme, String> {
        let header_sets = self
            .headers
            .iter()
            .map(|set| {
                Ok(HeaderSet {
                    signatures: set
                        .signatures
                        .iter()
                        .map(|n| header_name(n))
                        .collect::<Result<_, String>>()?,
                    timestamp: set.timestamp.map(header_name).transpose()?,
                    id: set.id.map(header_name).transpose()?,
                })
            })
            .collect::<Result<_, String>>()?;
        let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let format = match self.format {
            Format::Whole(prefixes) => SignatureFormat::Whole {
                prefixes: strings(prefixes),
            },
            Format::List(separator, prefixes) => SignatureFormat::List {
                separator,
                prefixes: strings(prefixes),
            },
            Format::Fields {
                separator,
                signatures,
                timestamp,
            } => SignatureFormat::Fields {
                separator,
                signature_keys: strings(signatures),
                timestamp_key: timestamp.map(str::to_string),
            },
        };
        Ok(Scheme {
            algorithm: self.algorithm,
            encoding: self.encoding,
            header_sets,
            signature_in_body: self.signature_in_body.map(str::to_string),
            format,
            template: Template::parse(self.template)?,
            timestamp: self.timestamp.map(|t| t.rule()),
            body_sha256_param: self.body_sha256_param.map(str::to_string),
        })
    }
}

impl Spec {
    /// The token source of a header-token preset, or `None` for signature presets.
    pub fn token_source(&self) -> Result<Option<TokenSource>, String> {
        match self {
            Spec::HeaderToken(name) => Ok(Some(TokenSource::Header(header_name(name)?))),
            Spec::Signature(_) => Ok(None),
        }
    }
}

/// What a sender's request looks like, for [`Preset::sign`].
pub struct Outgoing<'a> {
    pub method: Method,
    pub body: &'a [u8],
    /// The full URL given to the provider, for URL-signing presets.
    pub url: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub now: std::time::SystemTime,
}

impl Preset {
    /// The headers (name, value) a sender using this preset attaches, signed with `secret`. For a
    /// preset that signs inside the body (Mailgun), the name is the JSON pointer to fill in.
    pub fn sign(
        &self,
        secret: &super::Secret,
        outgoing: &Outgoing<'_>,
    ) -> Result<Vec<(String, String)>, String> {
        let Spec::Signature(spec) = &self.spec else {
            return Err(format!(
                "{} sends the secret itself in a header; there is nothing to sign",
                self.name
            ));
        };
        if !spec.algorithm.is_hmac() {
            return Err(format!(
                "{} signs with the provider's private key; hookguard holds only the public key",
                self.name
            ));
        }
        let verifier = super::SignatureVerifier::new(
            spec.scheme()?,
            spec.key_format,
            &[(secret.clone(), None)],
        )
        .map_err(|(_, message)| message)?;
        let since_epoch = outgoing
            .now
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let timestamp = spec.timestamp.and_then(|t| match t.source {
            Stamp::Json(_) => None,
            Stamp::Header | Stamp::Field => Some(match t.unit {
                TimeUnit::Seconds => since_epoch.as_secs().to_string(),
                TimeUnit::Millis => since_epoch.as_millis().to_string(),
                TimeUnit::Rfc3339 => humantime::format_rfc3339_seconds(outgoing.now).to_string(),
            }),
        });
        let headers = spec.headers.first().copied().unwrap_or(Headers {
            signatures: &[],
            timestamp: None,
            id: None,
        });
        let id = headers
            .id
            .map(|_| format!("msg_hookguard_{}", since_epoch.as_nanos()));
        let mut request_headers = http::HeaderMap::new();
        if let Some(value) = outgoing
            .content_type
            .and_then(|c| http::HeaderValue::from_str(c).ok())
        {
            request_headers.insert(http::header::CONTENT_TYPE, value);
        }
        let view = super::RequestView {
            method: &outgoing.method,
            headers: &request_headers,
            query: None,
            body: &crate::body::RawBody::from(outgoing.body),
            public_url: outgoing.url,
            now: outgoing.now,
        };
        let signature = verifier
            .sign(
                &view,
                timestamp.as_deref().map(str::as_bytes),
                id.as_deref().map(str::as_bytes),
            )
            .map_err(|why| format!("cannot sign: {why}"))?;
        let value = match spec.format {
            Format::Whole(prefixes) | Format::List(_, prefixes) => {
                format!("{}{signature}", prefixes.first().copied().unwrap_or(""))
            }
            Format::Fields {
                separator,
                signatures,
                timestamp: timestamp_key,
            } => format!(
                "{}={}{separator}{}={signature}",
                timestamp_key.unwrap_or("t"),
                timestamp.as_deref().unwrap_or(""),
                signatures.first().copied().unwrap_or("v1")
            ),
        };
        let mut out = Vec::new();
        match (spec.signature_in_body, headers.signatures.first()) {
            (Some(pointer), _) => out.push((pointer.to_string(), value)),
            (None, Some(name)) => out.push((name.to_string(), value)),
            (None, None) => return Err(format!("{} names no signature header", self.name)),
        }
        if let (Some(name), Some(Stamp::Header), Some(text)) = (
            headers.timestamp,
            spec.timestamp.map(|t| t.source),
            &timestamp,
        ) {
            out.push((name.to_string(), text.clone()));
        }
        if let (Some(name), Some(text)) = (headers.id, id) {
            out.push((name.to_string(), text));
        }
        Ok(out)
    }
}

/// The README's preset table, generated from the rows so the two cannot drift apart.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| preset | signature | signed content | timestamp, tolerance | event type; delivery id | methods | handshake |\n|---|---|---|---|---|---|---|\n",
    );
    for preset in PRESETS {
        let methods: Vec<&str> = preset.methods.iter().map(Method::as_str).collect();
        let handshake = match preset.handshake {
            Handshake::None => "",
            Handshake::DropboxChallenge => "GET `?challenge=` echoed",
            Handshake::TwitterCrc => "GET `?crc_token=` answered",
            Handshake::ZoomUrlValidation => "`endpoint.url_validation` answered",
        };
        let (signature, content, timestamp) = match &preset.spec {
            Spec::HeaderToken(name) => (
                format!("`{name}`: the token itself"),
                "none".to_string(),
                String::new(),
            ),
            Spec::Signature(spec) => describe(spec),
        };
        let fields = format!(
            "{}; {}",
            describe_field(preset.event, &preset.spec),
            describe_field(preset.delivery_id, &preset.spec)
        );
        out.push_str(&format!(
            "| `{}` | {signature} | {content} | {timestamp} | {fields} | {} | {handshake} |\n",
            preset.name,
            methods.join(", ")
        ));
    }
    out
}

/// Where a field is read, and whether the signature covers it: an unsigned value can be changed by
/// whoever replays a captured delivery, so the table says so wherever a decision could rest on one.
fn describe_field(field: Option<Field>, spec: &Spec) -> String {
    let signed = |field: Field| match (field, spec) {
        (_, Spec::HeaderToken(_)) => false,
        // Twilio's form fields are signed, and a JSON body is covered by `bodySHA256`.
        (Field::Json(_), Spec::Signature(spec)) => {
            spec.template.contains("{body}") || spec.body_sha256_param.is_some()
        }
        (Field::Header(name), Spec::Signature(spec)) => {
            spec.template.contains("{id}")
                && spec
                    .headers
                    .iter()
                    .any(|set| set.id.is_some_and(|id| id.eq_ignore_ascii_case(name)))
        }
    };
    match field {
        None => "—".to_string(),
        Some(field) => {
            let place = match field {
                Field::Header(name) => format!("`{name}`"),
                Field::Json(pointer) => format!("body `{pointer}`"),
            };
            if signed(field) {
                place
            } else {
                format!("{place} (unsigned)")
            }
        }
    }
}

fn describe(spec: &SignatureSpec) -> (String, String, String) {
    let names: Vec<String> = spec
        .headers
        .iter()
        .take(1)
        .flat_map(|set| set.signatures.iter().map(|n| format!("`{n}`")))
        .collect();
    let encoding = match spec.algorithm {
        Ed25519 => "hex Ed25519".to_string(),
        EcdsaP256Sha256 => "base64 ECDSA P-256".to_string(),
        HmacSha1 | HmacSha256 | HmacSha512 => {
            format!(
                "{} {}",
                spec.encoding.as_str(),
                spec.algorithm.as_str().to_ascii_uppercase()
            )
        }
    };
    let shape = match spec.format {
        Format::Whole(prefixes) => match prefixes {
            [] | [""] => String::new(),
            [first, rest @ ..] if rest.contains(&"") => format!(" `{first}…` or bare"),
            [first, ..] => format!(" `{first}…`"),
        },
        Format::List(separator, prefixes) => {
            let separator = if separator == ' ' { "space" } else { "comma" };
            format!(
                " `{}…` list ({separator})",
                prefixes.first().copied().unwrap_or("")
            )
        }
        Format::Fields {
            separator,
            signatures,
            timestamp,
        } => format!(
            " `{}=…{separator}{}=…`",
            timestamp.unwrap_or("t"),
            signatures.first().copied().unwrap_or("v1")
        ),
    };
    let signature = match spec.signature_in_body {
        Some(pointer) => format!("body `{pointer}`: {encoding}"),
        None => format!("{}: {encoding}{shape}", names.join(", ")),
    };
    let key = match spec.key_format {
        KeyFormat::Whsec => "; `whsec_` key",
        KeyFormat::Hex => "; hex public key",
        KeyFormat::Base64Der => "; base64 DER public key",
        KeyFormat::Raw => "",
    };
    let content = format!("`{}`{key}", spec.template);
    let timestamp = match spec.timestamp {
        None => "none".to_string(),
        Some(t) => {
            let source = match t.source {
                Stamp::Header => spec
                    .headers
                    .first()
                    .and_then(|h| h.timestamp)
                    .map_or(String::new(), |h| format!("`{h}`")),
                Stamp::Field => "in the signature header".to_string(),
                Stamp::Json(pointer) => format!("body `{pointer}`"),
            };
            let unit = match t.unit {
                TimeUnit::Seconds => "s",
                TimeUnit::Millis => "ms",
                TimeUnit::Rfc3339 => "RFC 3339",
            };
            let window = match (t.tolerance_s, t.reject_future) {
                (None, _) => "not bounded".to_string(),
                (Some(s), true) => format!("±{s} s"),
                (Some(s), false) => format!("{s} s, old only"),
            };
            format!("{source} ({unit}), {window}")
        }
    };
    (signature, content, timestamp)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use base64::Engine as _;
    use http::{HeaderMap, HeaderValue};
    use serde_json::Value;

    use super::*;
    use crate::verify::{
        Rejection, RequestView, Secret, SignatureVerifier, TokenVerifier, Verifier,
    };

    const VECTORS: &str = include_str!("../../tests/data/preset-vectors.json");

    fn vectors() -> Vec<Value> {
        let document: Value = serde_json::from_str(VECTORS).expect("vectors parse");
        document["vectors"].as_array().expect("vectors").clone()
    }

    fn verifier(preset: &Preset, secret: &str) -> Verifier {
        let secrets = [(Secret::new(secret), None)];
        match &preset.spec {
            Spec::Signature(spec) => Verifier::Signature(
                SignatureVerifier::new(spec.scheme().expect("scheme"), spec.key_format, &secrets)
                    .expect("keys"),
            ),
            Spec::HeaderToken(_) => Verifier::Token(TokenVerifier::new(
                preset.spec.token_source().expect("source").expect("token"),
                &secrets,
            )),
        }
    }

    /// The names this preset reads its signature from, lower-cased.
    fn signature_headers(preset: &Preset) -> Vec<String> {
        match &preset.spec {
            Spec::Signature(spec) => spec
                .headers
                .iter()
                .flat_map(|set| set.signatures.iter().map(|n| n.to_ascii_lowercase()))
                .collect(),
            Spec::HeaderToken(name) => vec![name.to_ascii_lowercase()],
        }
    }

    struct Case {
        preset: &'static Preset,
        secret: String,
        wrong_secret: String,
        now: SystemTime,
        headers: HeaderMap,
        body: Vec<u8>,
        tampered: Vec<u8>,
        url: Option<String>,
        query: Option<String>,
    }

    impl Case {
        fn from(vector: &Value) -> Case {
            let name = vector["preset"].as_str().expect("preset");
            let request = &vector["request"];
            let mut headers = HeaderMap::new();
            for pair in request["headers"].as_array().expect("headers") {
                let name = HeaderName::from_bytes(pair[0].as_str().expect("name").as_bytes())
                    .expect("header name");
                headers.append(
                    name,
                    HeaderValue::from_str(pair[1].as_str().expect("value")).expect("header value"),
                );
            }
            let query = request["query"]
                .as_str()
                .filter(|q| !q.is_empty())
                .map(str::to_string);
            Case {
                preset: find(name).unwrap_or_else(|| panic!("fixture for unknown preset {name}")),
                secret: vector["secret"].as_str().expect("secret").to_string(),
                wrong_secret: vector["wrong_secret"]
                    .as_str()
                    .expect("wrong secret")
                    .to_string(),
                now: UNIX_EPOCH + Duration::from_secs(vector["now"].as_u64().expect("now")),
                headers,
                body: request["body"].as_str().expect("body").as_bytes().to_vec(),
                tampered: vector["tampered_body"]
                    .as_str()
                    .expect("tampered")
                    .as_bytes()
                    .to_vec(),
                url: request["url"].as_str().map(str::to_string),
                query,
            }
        }

        fn check(
            &self,
            secret: &str,
            headers: &HeaderMap,
            body: &[u8],
            now: SystemTime,
        ) -> Result<(), Rejection> {
            let view = RequestView {
                method: &Method::POST,
                headers,
                query: self.query.as_deref(),
                body: &crate::body::RawBody::from(body),
                public_url: self.url.as_deref(),
                now,
            };
            verifier(self.preset, secret).verify(&view)
        }

        fn first_signature_header(&self) -> Option<HeaderName> {
            let names = signature_headers(self.preset);
            self.headers
                .keys()
                .find(|k| names.contains(&k.as_str().to_string()))
                .cloned()
        }
    }

    #[test]
    fn every_preset_has_a_known_answer_vector() {
        let covered: Vec<String> = vectors()
            .iter()
            .map(|v| v["preset"].as_str().expect("preset").to_string())
            .collect();
        for preset in PRESETS {
            assert!(
                covered.iter().any(|c| c == preset.name),
                "no fixture for {}",
                preset.name
            );
        }
        assert!(PRESETS.len() > 30, "{} presets", PRESETS.len());
    }

    #[test]
    fn known_answers_verify() {
        for vector in vectors() {
            let case = Case::from(&vector);
            assert_eq!(
                case.check(&case.secret, &case.headers, &case.body, case.now),
                Ok(()),
                "{} ({})",
                case.preset.name,
                vector["source"]
            );
        }
    }

    #[test]
    fn tampered_bodies_and_wrong_keys_are_refused() {
        for vector in vectors() {
            let case = Case::from(&vector);
            let name = case.preset.name;
            if case.tampered != case.body {
                assert!(
                    case.check(&case.secret, &case.headers, &case.tampered, case.now)
                        .is_err(),
                    "{name}: tampered body"
                );
            }
            assert_eq!(
                case.check(&case.wrong_secret, &case.headers, &case.body, case.now),
                Err(Rejection::SignatureMismatch),
                "{name}: wrong key"
            );
        }
    }

    #[test]
    fn stale_and_future_timestamps_are_refused_where_the_provider_checks_them() {
        for vector in vectors() {
            let case = Case::from(&vector);
            let Spec::Signature(spec) = &case.preset.spec else {
                continue;
            };
            let Some(Timestamp {
                tolerance_s: Some(tolerance),
                reject_future,
                ..
            }) = spec.timestamp
            else {
                continue;
            };
            let margin = Duration::from_secs(tolerance + 60);
            let name = case.preset.name;
            assert_eq!(
                case.check(&case.secret, &case.headers, &case.body, case.now + margin),
                Err(Rejection::StaleTimestamp),
                "{name}: stale"
            );
            let future = case.check(&case.secret, &case.headers, &case.body, case.now - margin);
            if reject_future {
                assert_eq!(future, Err(Rejection::FutureTimestamp), "{name}: future");
            } else {
                assert_eq!(
                    future,
                    Ok(()),
                    "{name}: the provider only refuses old timestamps"
                );
            }
        }
    }

    #[test]
    fn duplicated_malformed_and_missing_signature_headers_are_refused() {
        for vector in vectors() {
            let case = Case::from(&vector);
            let name = case.preset.name;
            let Some(header) = case.first_signature_header() else {
                continue; // Mailgun signs inside the body.
            };
            let mut duplicated = case.headers.clone();
            let value = duplicated[&header].clone();
            duplicated.append(header.clone(), value);
            assert_eq!(
                case.check(&case.secret, &duplicated, &case.body, case.now),
                Err(Rejection::DuplicatedSignature),
                "{name}: duplicated"
            );
            let mut missing = case.headers.clone();
            for other in signature_headers(case.preset) {
                missing.remove(other.as_str());
            }
            assert_eq!(
                case.check(&case.secret, &missing, &case.body, case.now),
                Err(Rejection::MissingSignature),
                "{name}: missing"
            );
            if matches!(case.preset.spec, Spec::Signature(_)) {
                let mut malformed = case.headers.clone();
                for other in signature_headers(case.preset) {
                    if malformed.contains_key(other.as_str()) {
                        malformed.insert(
                            HeaderName::from_bytes(other.as_bytes()).expect("name"),
                            HeaderValue::from_static("not a signature!"),
                        );
                    }
                }
                assert_eq!(
                    case.check(&case.secret, &malformed, &case.body, case.now),
                    Err(Rejection::MalformedSignature),
                    "{name}: malformed"
                );
            }
        }
    }

    #[test]
    fn sign_reproduces_what_verify_accepts_for_every_hmac_preset() {
        let now = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        for preset in PRESETS {
            let Spec::Signature(spec) = &preset.spec else {
                continue;
            };
            if !spec.algorithm.is_hmac() {
                continue;
            }
            let secret = match spec.key_format {
                KeyFormat::Whsec => format!(
                    "whsec_{}",
                    base64::engine::general_purpose::STANDARD.encode(b"sign-test-key")
                ),
                _ => "sign-test-key".to_string(),
            };
            let body = if spec.signature_in_body.is_some() {
                br#"{"signature":{"timestamp":"1767225600","token":"tok","signature":""}}"#.to_vec()
            } else if preset.name == "twilio" {
                b"Body=hi&From=%2B1555".to_vec()
            } else if preset.name == "linear" {
                br#"{"webhookTimestamp":1767225600000}"#.to_vec()
            } else {
                br#"{"event":"x"}"#.to_vec()
            };
            let url = Some("https://hooks.example.com/x");
            let content_type =
                (preset.name == "twilio").then_some("application/x-www-form-urlencoded");
            let outgoing = Outgoing {
                method: Method::POST,
                body: &body,
                url,
                content_type,
                now,
            };
            let signed = preset
                .sign(&Secret::new(secret.clone()), &outgoing)
                .expect("sign");
            let mut headers = HeaderMap::new();
            if let Some(content_type) = content_type {
                headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static(content_type),
                );
            }
            let mut body = body.clone();
            for (name, value) in &signed {
                if name.starts_with('/') {
                    let text = String::from_utf8(body)
                        .expect("utf8")
                        .replace(r#""signature":"""#, &format!(r#""signature":"{value}""#));
                    body = text.into_bytes();
                } else {
                    headers.append(
                        HeaderName::from_bytes(name.as_bytes()).expect("name"),
                        value.parse().expect("value"),
                    );
                }
            }
            let view = RequestView {
                method: &Method::POST,
                headers: &headers,
                query: None,
                body: &crate::body::RawBody::from(&body[..]),
                public_url: url,
                now,
            };
            assert_eq!(
                verifier(preset, &secret).verify(&view),
                Ok(()),
                "{}: {signed:?}",
                preset.name
            );
        }
    }
}
