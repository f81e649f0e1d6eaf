//! Senders that fit the common shapes: an HMAC of the body or of a timestamp and the body, in a header.
//! Standard Webhooks senders, Stripe-like `t=…` fields, prefixed and listed signatures, and Telnyx's
//! Ed25519. Each row cites the documentation or SDK it was checked against.

use crate::verify::keys::KeyFormat;
use crate::verify::presets::shapes::*;
use crate::verify::presets::Preset;
use crate::verify::scheme::{Algorithm, Encoding, TimeUnit, TimestampSource};
use crate::verify::spec::{SchemeSpec, TimestampSpec};
use crate::verify::Field;

use Algorithm::{Ed25519, HmacSha1};
use Encoding::Base64;
use KeyFormat::Base64Der;

/// A timestamp that is signed but bounded by no window: the provider documents none, and a window
/// of our own could refuse its retries. A route's `tolerance` adds one.
fn unbounded(source: TimestampSource, unit: TimeUnit) -> Option<TimestampSpec> {
    stamp(source, unit, None, false)
}

pub(in crate::verify::presets) fn rows() -> Vec<Preset> {
    vec![
    // --- Standard Webhooks senders ---
    // openai-python lib/_webhooks.py (webhooks.verify_signature): webhook-* headers, v1,<b64> list
    // over {id}.{ts}.{body}, whsec_ key base64-decoded, 300 s both ways.
    with_event(
        preset("openai", "OpenAI: Standard Webhooks headers and scheme; whsec_ key; ±300 s", standard_webhooks()),
        Field::Json("/type"), Some(Field::Header("webhook-id"))),
    // developer.brex.com "Webhooks: verify the signature" and the webhooks API's "List webhook
    // secrets": Webhook-Id/-Timestamp/-Signature, v1,<b64> over {id}.{ts}.{body}, the secret
    // base64-decoded; two signatures during rotation.
    with_event(
        preset("brex", "Brex: Webhook-Signature v1,<b64> over {id}.{ts}.{body}; base64 secret from /v1/webhooks/secrets; ±300 s",
            standard_webhooks()),
        Field::Json("/event_type"), Some(Field::Header("webhook-id"))),
    // lithic-python resources/webhooks.py verify_signature: the standardwebhooks library with the
    // whsec_ secret; lithic-go webhook_test.go.
    with_event(
        preset("lithic", "Lithic: Standard Webhooks headers and scheme; whsec_ key; ±300 s", standard_webhooks()),
        Field::Json("/event_type"), Some(Field::Header("webhook-id"))),
    // polar.sh "Handle & monitor webhook deliveries" and polar-sdk webhooks.py: Standard Webhooks,
    // but the HMAC key is the secret's own bytes (the SDK base64-encodes it for the library).
    with_event(
        preset("polar", "Polar: Standard Webhooks headers and scheme; the secret's bytes are the key (not base64-decoded); ±300 s",
            SchemeSpec { key_format: KeyFormat::Raw, ..standard_webhooks() }),
        Field::Json("/type"), Some(Field::Header("webhook-id"))),

    // --- Timestamp and body ---
    // telnyx-python lib/webhook_verification.py: base64 Ed25519 over "{ts}|{body}", base64 public
    // key, telnyx-timestamp within 300 s either way.
    with_event(
        preset("telnyx", "Telnyx: telnyx-signature-ed25519: <b64 Ed25519> over {ts}|{body}; base64 public key; ±300 s",
            SchemeSpec {
                algorithm: Ed25519,
                encoding: Base64,
                key_format: Base64Der,
                header_sets: vec![headers(&["telnyx-signature-ed25519"], Some("telnyx-timestamp"), None)],
                template: "{timestamp}|{body}".into(),
                timestamp: header_stamp(TimeUnit::Seconds, Some(300), true),
                ..body_hmac()
            }),
        Field::Json("/data/event_type"), Some(Field::Json("/data/id"))),
    // developers.tiktok.com "Webhooks: check the signature": TikTok-Signature t=<unix>,s=<hex> over
    // "{t}.{body}" with the client secret; the window is left to the receiver.
    with_event(
        preset("tiktok", "TikTok: TikTok-Signature: t=<unix>,s=<hex> over {t}.{body}; client secret",
            SchemeSpec {
                header_sets: sig("TikTok-Signature"),
                format: stripe_like(',', &["s"], "t"),
                template: "{timestamp}.{body}".into(),
                timestamp: unbounded(TimestampSource::SignatureField, TimeUnit::Seconds),
                ..body_hmac()
            }),
        Field::Json("/event"), None),
    // buildkite/docs apis/webhooks "Webhook signature" and "Verifying HMAC signatures":
    // timestamp=<unix>,signature=<hex> over "{timestamp}.{body}"; the docs suggest 5 minutes.
    with_event(
        preset("buildkite", "Buildkite: X-Buildkite-Signature: timestamp=<unix>,signature=<hex> over {ts}.{body}; ±300 s",
            SchemeSpec {
                header_sets: sig("X-Buildkite-Signature"),
                format: stripe_like(',', &["signature"], "timestamp"),
                template: "{timestamp}.{body}".into(),
                timestamp: field_stamp(TimeUnit::Seconds, 300, true),
                ..body_hmac()
            }),
        Field::Json("/event"), None),
    // trycourier/docs platform/workspaces/outbound-webhooks: courier-signature t=<ms>,signature=<hex>
    // over "{t}.{body}"; the window is left to the receiver.
    with_event(
        preset("courier", "Courier: courier-signature: t=<ms>,signature=<hex> over {t}.{body}",
            SchemeSpec {
                header_sets: sig("courier-signature"),
                format: stripe_like(',', &["signature"], "t"),
                template: "{timestamp}.{body}".into(),
                timestamp: unbounded(TimestampSource::SignatureField, TimeUnit::Millis),
                ..body_hmac()
            }),
        Field::Json("/type"), None),
    // customer.io "Reporting webhooks: securely verify requests": X-CIO-Signature hex over
    // "v0:{X-CIO-Timestamp}:{body}". Retries hold back later deliveries, so no window is imposed.
    with_event(
        preset("customerio", "Customer.io: X-CIO-Signature: <hex> over v0:{ts}:{body}, X-CIO-Timestamp (s)",
            SchemeSpec {
                header_sets: vec![headers(&["X-CIO-Signature"], Some("X-CIO-Timestamp"), None)],
                template: "v0:{timestamp}:{body}".into(),
                timestamp: unbounded(TimestampSource::Header, TimeUnit::Seconds),
                ..body_hmac()
            }),
        Field::Json("/metric"), Some(Field::Json("/event_id"))),
    // airwallex.com/docs "Listen for webhook events: check webhook signatures": x-signature hex
    // HMAC-SHA256 of x-timestamp (ms) followed by the body, no separator.
    with_event(
        preset("airwallex", "Airwallex: x-signature: <hex> over {ts}{body}, x-timestamp (ms)",
            SchemeSpec {
                header_sets: vec![headers(&["x-signature"], Some("x-timestamp"), None)],
                template: "{timestamp}{body}".into(),
                timestamp: unbounded(TimestampSource::Header, TimeUnit::Millis),
                ..body_hmac()
            }),
        Field::Json("/name"), Some(Field::Json("/id"))),
    // api.akeneo.com "Events API: security": X-Akeneo-Request-Signature hex over
    // "{X-Akeneo-Request-Timestamp}.{body}". The body is a batch of events, so no one event type.
    preset("akeneo", "Akeneo Events API: X-Akeneo-Request-Signature: <hex> over {ts}.{body}, X-Akeneo-Request-Timestamp (s)",
        SchemeSpec {
            header_sets: vec![headers(&["X-Akeneo-Request-Signature"], Some("X-Akeneo-Request-Timestamp"), None)],
            template: "{timestamp}.{body}".into(),
            timestamp: unbounded(TimestampSource::Header, TimeUnit::Seconds),
            ..body_hmac()
        }),

    // --- The body alone ---
    // vercel.com/docs/webhooks "Securing webhooks": x-vercel-signature, hex HMAC-SHA1 of the body.
    with_event(
        preset("vercel", "Vercel: x-vercel-signature: <hex HMAC-SHA1 of the body>",
            SchemeSpec { algorithm: HmacSha1, header_sets: sig("x-vercel-signature"), ..body_hmac() }),
        Field::Json("/type"), Some(Field::Json("/id"))),
    // woocommerce includes/class-wc-webhook.php generate_signature(): base64 HMAC-SHA256 of the
    // body; the topic and delivery id travel in unsigned headers.
    with_event(
        preset("woocommerce", "WooCommerce: X-WC-Webhook-Signature: <b64 HMAC-SHA256 of the body>",
            SchemeSpec { encoding: Base64, header_sets: sig("X-WC-Webhook-Signature"), ..body_hmac() }),
        Field::Header("X-WC-Webhook-Topic"), Some(Field::Header("X-WC-Webhook-Delivery-ID"))),
    // gocardless-pro-python webhooks.py _verify_signature: Webhook-Signature, hex HMAC-SHA256 of the
    // body. One delivery carries a list of events, so there is no single event type.
    Preset {
        delivery_id: Some(Field::Json("/meta/webhook_id")),
        ..preset("gocardless", "GoCardless: Webhook-Signature: <hex HMAC-SHA256 of the body>",
            SchemeSpec { header_sets: sig("Webhook-Signature"), ..body_hmac() })
    },
    // pusher-http-python authentication_client.py validate_webhook: X-Pusher-Signature hex
    // HMAC-SHA256 of the body with the app secret; time_ms in the body within 300 s.
    preset("pusher", "Pusher: X-Pusher-Signature: <hex HMAC-SHA256 of the body>; body time_ms within 300 s",
        SchemeSpec {
            header_sets: sig("X-Pusher-Signature"),
            timestamp: json_stamp("/time_ms", TimeUnit::Millis, 300),
            ..body_hmac()
        }),
    // MicrosoftDocs/msteams-docs "Create an Outgoing Webhook" and the outgoing-webhook sample app.js:
    // Authorization: HMAC <b64 HMAC-SHA256 of the body>, keyed with the base64-decoded token.
    with_event(
        preset("microsoft-teams", "Microsoft Teams outgoing webhook: Authorization: HMAC <b64 HMAC-SHA256 of the body>; base64 security token",
            SchemeSpec {
                encoding: Base64,
                key_format: Base64Der,
                header_sets: sig("Authorization"),
                format: whole(&["HMAC "]),
                ..body_hmac()
            }),
        Field::Json("/type"), Some(Field::Json("/id"))),
    // airtable.com/developers "Webhooks overview: notification delivery" and "Create a webhook":
    // X-Airtable-Content-MAC hmac-sha256=<hex>, keyed with the decoded macSecretBase64. The ping
    // names no event; the changes are fetched from the API.
    preset("airtable", "Airtable: X-Airtable-Content-MAC: hmac-sha256=<hex HMAC-SHA256 of the body>; base64 macSecret",
        SchemeSpec {
            key_format: Base64Der,
            header_sets: sig("X-Airtable-Content-MAC"),
            format: whole(&["hmac-sha256="]),
            ..body_hmac()
        }),
    ]
}
