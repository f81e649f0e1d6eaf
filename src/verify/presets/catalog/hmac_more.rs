//! More senders that fit the common shapes (second half of the HMAC family): an HMAC of the body, or
//! of a timestamp and the body, in a header. Each row cites the provider document or SDK it was
//! checked against.

use crate::verify::presets::shapes::*;
use crate::verify::presets::Preset;
use crate::verify::scheme::{Algorithm, Encoding, TimeUnit};
use crate::verify::spec::SchemeSpec;
use crate::verify::Field;

use Algorithm::HmacSha1;
use Encoding::Base64;

pub(in crate::verify::presets) fn rows() -> Vec<Preset> {
    vec![
        // kb.help.usepylon.com "How do I verify the webhook signatures?" (Pylon the support platform,
        // usepylon.com; not getpylon.com): X-Pylon-Signature, hex HMAC-SHA256 of the payload under the
        // webhook's secret, no timestamp. The payload is the user's own template, so no event field.
        preset(
            "pylon",
            "Pylon: X-Pylon-Signature: <hex HMAC-SHA256 of the body>",
            SchemeSpec {
                header_sets: sig("X-Pylon-Signature"),
                ..body_hmac()
            },
        ),
        // orbcorp/orb-node src/resources/webhooks.ts and orb-billing (Python) verify_signature:
        // `v1:{ts}:{body}`, X-Orb-Timestamp ISO 8601 (UTC when it has no zone), ±5 min,
        // space-separated `v1=<hex>` list; the secret is used verbatim.
        with_event(
            preset(
                "orb",
                "Orb: X-Orb-Signature: v1=<hex>[ v1=...] over v1:{ts}:{body}, X-Orb-Timestamp ISO 8601; ±300 s",
                SchemeSpec {
                    header_sets: vec![headers(&["X-Orb-Signature"], Some("X-Orb-Timestamp"), None)],
                    format: list(' ', &["v1="]),
                    template: "v1:{timestamp}:{body}".into(),
                    timestamp: header_stamp(TimeUnit::Rfc3339, Some(300), true),
                    ..body_hmac()
                },
            ),
            Field::Json("/type"),
            Some(Field::Json("/id")),
        ),
        // go1.com/developers "Webhook signature authentification" and go1com/webhook-verifier-js
        // src/signature-verifier.ts: t=<unix>,v1=<hex> over `{t}.{body}`; the verifier refuses
        // timestamps older than 60 s and checks no future bound.
        with_event(
            preset(
                "go1",
                "Go1: Go1-Signature: t=<unix>,v1=<hex> over {t}.{body}; 60 s",
                SchemeSpec {
                    header_sets: sig("Go1-Signature"),
                    format: stripe_like(',', &["v1"], "t"),
                    template: "{timestamp}.{body}".into(),
                    timestamp: field_stamp(TimeUnit::Seconds, 60, false),
                    ..body_hmac()
                },
            ),
            Field::Json("/type"),
            None,
        ),
        // tally.so/help/webhooks "Add a signing secret": a Tally-Signature header holding an
        // HMAC-SHA256 of the payload under the signing secret, no timestamp. The stored copy of that
        // page cuts off before its example's digest encoding; base64 is what integrators' working
        // verifiers of real deliveries use (PHP base64_encode(hash_hmac(.., true)), Python b64encode).
        // Event type and id are in the signed body.
        with_event(
            preset(
                "tally",
                "Tally: Tally-Signature: <b64 HMAC-SHA256 of the body>",
                SchemeSpec {
                    encoding: Base64,
                    header_sets: sig("Tally-Signature"),
                    ..body_hmac()
                },
            ),
            Field::Json("/eventType"),
            Some(Field::Json("/eventId")),
        ),
        // developer.fastspring.com "Message security": X-FS-Signature, base64 HMAC-SHA256 of the
        // payload. A delivery batches several events, so no single event type is named.
        preset(
            "fastspring",
            "FastSpring: X-FS-Signature: <b64 HMAC-SHA256 of the body>",
            SchemeSpec {
                encoding: Base64,
                header_sets: sig("X-FS-Signature"),
                ..body_hmac()
            },
        ),
        // aftership.com/docs tracking and shipping "Webhook signature": base64 HMAC-SHA256 of the
        // body in aftership-hmac-sha256 (Tracking) or am-webhook-signature (Shipping).
        with_event(
            preset(
                "aftership",
                "AfterShip: aftership-hmac-sha256 (Tracking) or am-webhook-signature (Shipping): <b64 HMAC-SHA256 of the body>",
                SchemeSpec {
                    encoding: Base64,
                    header_sets: vec![
                        headers(&["aftership-hmac-sha256"], None, None),
                        headers(&["am-webhook-signature"], None, None),
                    ],
                    ..body_hmac()
                },
            ),
            Field::Json("/event"),
            None,
        ),
        // aps.autodesk.com "How to verify payload signature" and autodesk-platform-services/
        // aps-webhooks-signature: x-adsk-signature: sha1hash=<hex HMAC-SHA1 of the body>.
        with_event(
            preset(
                "autodesk",
                "Autodesk APS: x-adsk-signature: sha1hash=<hex HMAC-SHA1 of the body>",
                SchemeSpec {
                    algorithm: HmacSha1,
                    header_sets: sig("x-adsk-signature"),
                    format: whole(&["sha1hash="]),
                    ..body_hmac()
                },
            ),
            Field::Json("/hook/event"),
            None,
        ),
        // help.bolt.com "How to verify webhooks": X-Bolt-Hmac-Sha256, base64 HMAC-SHA256 of the
        // payload with the signing secret.
        preset(
            "bolt",
            "Bolt: X-Bolt-Hmac-Sha256: <b64 HMAC-SHA256 of the body>",
            SchemeSpec {
                encoding: Base64,
                header_sets: sig("X-Bolt-Hmac-Sha256"),
                ..body_hmac()
            },
        ),
        // castle/castle-python castle/webhooks/verify.py: X-Castle-Signature, base64 HMAC-SHA256
        // of the body with the API secret.
        with_event(
            preset(
                "castle",
                "Castle: X-Castle-Signature: <b64 HMAC-SHA256 of the body>",
                SchemeSpec {
                    encoding: Base64,
                    header_sets: sig("X-Castle-Signature"),
                    ..body_hmac()
                },
            ),
            Field::Json("/type"),
            None,
        ),
        // modern-treasury (Python SDK) resources/webhooks.py get_signature/validate_signature:
        // X-Signature, hex HMAC-SHA256 of the body with the webhook key.
        with_event(
            preset(
                "modern-treasury",
                "Modern Treasury: X-Signature: <hex HMAC-SHA256 of the body>",
                SchemeSpec {
                    header_sets: sig("X-Signature"),
                    ..body_hmac()
                },
            ),
            Field::Json("/event"),
            None,
        ),
        // mongodb.com/docs/atlas/tutorial/webhook-integration: X-MMS-Signature, base64
        // HMAC-SHA1 of the body; the alert state is in X-MMS-Event (a header, not signed).
        with_event(
            preset(
                "mongodb-atlas",
                "MongoDB Atlas: X-MMS-Signature: <b64 HMAC-SHA1 of the body>",
                SchemeSpec {
                    algorithm: HmacSha1,
                    encoding: Base64,
                    header_sets: sig("X-MMS-Signature"),
                    ..body_hmac()
                },
            ),
            Field::Header("X-MMS-Event"),
            None,
        ),
        // docs.fastly.com/signalsciences/integrations/generic-webhooks: X-SigSci-Signature, hex
        // HMAC-SHA256 of the payload with the generated key.
        with_event(
            preset(
                "signal-sciences",
                "Signal Sciences: X-SigSci-Signature: <hex HMAC-SHA256 of the body>",
                SchemeSpec {
                    header_sets: sig("X-SigSci-Signature"),
                    ..body_hmac()
                },
            ),
            Field::Json("/type"),
            None,
        ),
        // help.sonatype.com "Lifecycle webhooks" (Nexus IQ): X-Nexus-Webhook-Signature, hex
        // HmacSHA1 of the body; event type and delivery id in headers (not signed).
        with_event(
            preset(
                "sonatype",
                "Sonatype Lifecycle: X-Nexus-Webhook-Signature: <hex HMAC-SHA1 of the body>",
                SchemeSpec {
                    algorithm: HmacSha1,
                    header_sets: sig("X-Nexus-Webhook-Signature"),
                    ..body_hmac()
                },
            ),
            Field::Header("X-Nexus-Webhook-ID"),
            Some(Field::Header("X-Nexus-Webhook-Delivery")),
        ),
        // cloudone.trendmicro.com/docs/conformity/webhook-communication: X-Conformity-Signature,
        // hex HMAC-SHA256 of the JSON payload with the security token, used verbatim.
        preset(
            "trendmicro-conformity",
            "Trend Micro Conformity: X-Conformity-Signature: <hex HMAC-SHA256 of the body>",
            SchemeSpec {
                header_sets: sig("X-Conformity-Signature"),
                ..body_hmac()
            },
        ),
        // docs.pinwheelapi.com "Webhook signature verification": x-pinwheel-signature: v2=<hex>
        // over `v2:{x-timestamp}:{body}` with the API secret. Pinwheel names neither a window nor the
        // timestamp's unit; with no window the integer is only parsed, never compared with the clock,
        // so the unit cannot refuse a good delivery. A tolerance set on the route assumes seconds.
        with_event(
            preset(
                "pinwheel",
                "Pinwheel: x-pinwheel-signature: v2=<hex> over v2:{ts}:{body}, x-timestamp",
                SchemeSpec {
                    header_sets: vec![headers(&["x-pinwheel-signature"], Some("x-timestamp"), None)],
                    format: whole(&["v2="]),
                    template: "v2:{timestamp}:{body}".into(),
                    timestamp: header_stamp(TimeUnit::Seconds, None, false),
                    ..body_hmac()
                },
            ),
            Field::Json("/event"),
            Some(Field::Json("/event_id")),
        ),
        // dev.frontapp.com "Application webhooks": x-front-signature, base64 HMAC-SHA256 of
        // `{x-front-request-timestamp}:{body}` (milliseconds) with the app's signing key; Front
        // sets no window. The signed `sync` check (x-front-challenge) is answered by the app.
        with_event(
            preset(
                "frontapp",
                "Front application webhooks: x-front-signature: <b64> over {ts}:{body}, x-front-request-timestamp (ms)",
                SchemeSpec {
                    encoding: Base64,
                    header_sets: vec![headers(&["x-front-signature"], Some("x-front-request-timestamp"), None)],
                    template: "{timestamp}:{body}".into(),
                    timestamp: header_stamp(TimeUnit::Millis, None, false),
                    ..body_hmac()
                },
            ),
            Field::Json("/type"),
            Some(Field::Json("/id")),
        ),
        // dev.frontapp.com "Rule webhooks": X-Front-Signature, base64 HMAC-SHA1 of the body with
        // the API secret.
        with_event(
            preset(
                "frontapp-rules",
                "Front rule webhooks: X-Front-Signature: <b64 HMAC-SHA1 of the body>",
                SchemeSpec {
                    algorithm: HmacSha1,
                    encoding: Base64,
                    header_sets: sig("X-Front-Signature"),
                    ..body_hmac()
                },
            ),
            Field::Json("/type"),
            Some(Field::Json("/id")),
        ),
        // docs.commercelayer.io "Callbacks security": X-CommerceLayer-Signature, base64
        // HMAC-SHA256 of the raw body with the shared secret.
        preset(
            "commercelayer",
            "Commerce Layer: X-CommerceLayer-Signature: <b64 HMAC-SHA256 of the body>",
            SchemeSpec {
                encoding: Base64,
                header_sets: sig("X-CommerceLayer-Signature"),
                ..body_hmac()
            },
        ),
        // picqer/picqer-php src/PicqerWebhook.php retrieveWithSecret: X-Picqer-Signature, base64
        // HMAC-SHA256 of the raw body with the hook's secret.
        with_event(
            preset(
                "picqer",
                "Picqer: X-Picqer-Signature: <b64 HMAC-SHA256 of the body>",
                SchemeSpec {
                    encoding: Base64,
                    header_sets: sig("X-Picqer-Signature"),
                    ..body_hmac()
                },
            ),
            Field::Json("/event"),
            None,
        ),
        // TiendaNube/api-docs resources/webhook.md "Verifying a webhook": X-Linkedstore-HMAC-SHA256,
        // hash_hmac('sha256', body, app secret), i.e. hex. The newer tiendanube-php-sdk
        // (src/Webhooks/Registry.php, ported from Shopify's SDK) compares base64 instead, against
        // only its own self-made test vector; the API documentation describes what the platform
        // sends, so hex it is. Were the platform to send base64, this row fails closed.
        with_event(
            preset(
                "nuvemshop",
                "Nuvemshop / Tiendanube: X-Linkedstore-Hmac-Sha256: <hex HMAC-SHA256 of the body>",
                SchemeSpec {
                    header_sets: sig("X-Linkedstore-Hmac-Sha256"),
                    ..body_hmac()
                },
            ),
            Field::Json("/event"),
            None,
        ),
        // clearbit/clearbit-ruby lib/clearbit/webhook.rb: X-Request-Signature: sha1=<hex HMAC-SHA1
        // of the body> with the API key.
        with_event(
            preset(
                "clearbit",
                "Clearbit: X-Request-Signature: sha1=<hex HMAC-SHA1 of the body>",
                SchemeSpec {
                    algorithm: HmacSha1,
                    header_sets: sig("X-Request-Signature"),
                    format: whole(&["sha1="]),
                    ..body_hmac()
                },
            ),
            Field::Json("/type"),
            Some(Field::Json("/id")),
        ),
    ]
}
