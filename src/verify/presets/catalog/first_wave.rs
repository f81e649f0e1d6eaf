//! The first presets: the mission's own providers (shared/seeds), the senders everyone uses, and
//! batches A and B of shared/providers.md. One row per sender, each citing what it was checked against.

use crate::verify::handshake::Handshake;
use crate::verify::keys::KeyFormat;
use crate::verify::presets::shapes::*;
use crate::verify::presets::{Preset, Spec};
use crate::verify::scheme::{Algorithm, Encoding, TimeUnit};
use crate::verify::spec::SchemeSpec;
use crate::verify::Field;

use Algorithm::{EcdsaP256Sha256, Ed25519, HmacSha1, HmacSha512};
use Encoding::Base64;

pub(in crate::verify::presets) fn rows() -> Vec<Preset> {
    vec![
    // --- The mission's providers (shared/seeds) ---
    // DriveWidget docs, "Verifying authenticity" (seeds/000).
    with_event(
        preset("drivewidget", "DriveWidget: X-DriveWidget-Signature: sha256=<hex HMAC-SHA256 of the body>",
            SchemeSpec { header_sets: sig("X-DriveWidget-Signature"), format: whole(&["sha256="]), ..body_hmac() }),
        Field::Json("/event"), None),
    // Form widget "Webhook Integration: Signature Validation" (seeds/002); its format line is cut, so
    // the common `sha256=` prefix is accepted as well as bare hex.
    preset("x-signature", "Form widget: X-Signature: <hex HMAC-SHA256 of the body>; sha256= prefix also accepted",
        SchemeSpec { header_sets: sig("X-Signature"), format: whole(&["sha256=", ""]), ..body_hmac() }),
    // Filedgr docs, "Webhook Security: Signature Verification" (seeds/004). The event type and id are
    // read from the signed body's `eventType` and `eventId`, not the unsigned X-Filedgr-Event-* headers.
    with_event(
        preset("filedgr", "Filedgr: X-Filedgr-Signature: <hex HMAC-SHA256 of the body>",
            SchemeSpec { header_sets: sig("X-Filedgr-Signature"), ..body_hmac() }),
        Field::Json("/eventType"), Some(Field::Json("/eventId"))),
    // Uploadcare REST API reference, "Webhooks: Signed webhooks" (seeds/003).
    with_event(
        preset("uploadcare", "Uploadcare: X-Uc-Signature: v1=<hex HMAC-SHA256 of the body>",
            SchemeSpec { header_sets: sig("X-Uc-Signature"), format: whole(&["v1="]), ..body_hmac() }),
        Field::Json("/hook/event"), None),

    // --- The providers everyone uses ---
    // docs.github.com, "Validating webhook deliveries"; @octokit/webhooks-methods sign().
    with_event(
        preset("github", "GitHub: X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>",
            SchemeSpec { header_sets: sig("X-Hub-Signature-256"), format: whole(&["sha256="]), ..body_hmac() }),
        Field::Header("X-GitHub-Event"), Some(Field::Header("X-GitHub-Delivery"))),
    // stripe-python WebhookSignature: t=<unix>,v1=<hex>[,v1=...] over "{t}.{body}", 300 s, old only;
    // the whsec_ secret is used verbatim.
    with_event(
        preset("stripe", "Stripe: Stripe-Signature: t=<unix>,v1=<hex> over {t}.{body}; 300 s",
            SchemeSpec {
                header_sets: sig("Stripe-Signature"),
                format: stripe_like(',', &["v1"], "t"),
                template: "{timestamp}.{body}".into(),
                timestamp: field_stamp(TimeUnit::Seconds, 300, false),
                ..body_hmac()
            }),
        Field::Json("/type"), Some(Field::Json("/id"))),
    // api.slack.com "Verifying requests from Slack"; slack_sdk SignatureVerifier: v0:{ts}:{body}, ±300 s.
    with_event(
        preset("slack", "Slack: X-Slack-Signature: v0=<hex> over v0:{ts}:{body}, X-Slack-Request-Timestamp; ±300 s",
            SchemeSpec {
                header_sets: vec![headers(&["X-Slack-Signature"], Some("X-Slack-Request-Timestamp"), None)],
                format: whole(&["v0="]),
                template: "v0:{timestamp}:{body}".into(),
                timestamp: header_stamp(TimeUnit::Seconds, Some(300), true),
                ..body_hmac()
            }),
        Field::Json("/type"), None),
    // shopify.dev "About webhooks: verify"; base64 HMAC-SHA256 of the body.
    with_event(
        preset("shopify", "Shopify: X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>",
            SchemeSpec { header_sets: sig("X-Shopify-Hmac-Sha256"), encoding: Base64, ..body_hmac() }),
        Field::Header("X-Shopify-Topic"), Some(Field::Header("X-Shopify-Webhook-Id"))),
    // standardwebhooks.com spec and the `standardwebhooks` SDK.
    with_event(
        preset("standard-webhooks", "Standard Webhooks: webhook-signature: v1,<b64> over {id}.{ts}.{body}; whsec_ key; ±300 s",
            standard_webhooks()),
        Field::Json("/type"), Some(Field::Header("webhook-id"))),
    // docs.svix.com "Verifying payloads manually"; the `svix` SDK. svix-* headers, webhook-* accepted too.
    with_event(
        preset("svix", "Svix: svix-signature: v1,<b64> over {id}.{ts}.{body}; whsec_ key; ±300 s",
            SchemeSpec { header_sets: vec![svix_headers(), webhook_headers()], ..standard_webhooks() }),
        Field::Json("/type"), Some(Field::Header("svix-id"))),
    // clerk.com "Webhooks: verify" (delivered through Svix).
    with_event(
        preset("clerk", "Clerk: Svix headers and scheme; whsec_ key",
            SchemeSpec { header_sets: vec![svix_headers(), webhook_headers()], ..standard_webhooks() }),
        Field::Json("/type"), Some(Field::Header("svix-id"))),
    // resend.com "Verify webhooks requests" (delivered through Svix).
    with_event(
        preset("resend", "Resend: Svix headers and scheme; whsec_ key",
            SchemeSpec { header_sets: vec![svix_headers(), webhook_headers()], ..standard_webhooks() }),
        Field::Json("/type"), Some(Field::Header("svix-id"))),
    // twilio-python RequestValidator: base64 HMAC-SHA1 of the URL plus sorted form fields; JSON bodies
    // are covered by a bodySHA256 query parameter instead.
    with_event(
        preset("twilio", "Twilio: X-Twilio-Signature: <b64 HMAC-SHA1> over public_url + sorted form fields; needs public_url",
            SchemeSpec {
                algorithm: HmacSha1,
                encoding: Base64,
                header_sets: sig("X-Twilio-Signature"),
                template: "{url}{form_params}".into(),
                body_sha256_param: Some("bodySHA256".into()),
                ..body_hmac()
            }),
        Field::Json("/type"), Some(Field::Header("I-Twilio-Idempotency-Token"))),
    // developer.paddle.com "Verify webhook signatures": ts=<unix>;h1=<hex> over "{ts}:{body}"; the
    // SDKs allow 5 s.
    with_event(
        preset("paddle", "Paddle: Paddle-Signature: ts=<unix>;h1=<hex> over {ts}:{body}; 5 s",
            SchemeSpec {
                header_sets: sig("Paddle-Signature"),
                format: stripe_like(';', &["h1"], "ts"),
                template: "{timestamp}:{body}".into(),
                timestamp: field_stamp(TimeUnit::Seconds, 5, true),
                ..body_hmac()
            }),
        Field::Json("/event_type"), Some(Field::Json("/event_id"))),
    // developers.zoom.us "Using webhooks: verify webhook events" and "validate your webhook endpoint".
    with_event(
        with_handshake(
            preset("zoom", "Zoom: x-zm-signature: v0=<hex> over v0:{ts}:{body}; answers endpoint.url_validation",
                SchemeSpec {
                    header_sets: vec![headers(&["x-zm-signature"], Some("x-zm-request-timestamp"), None)],
                    format: whole(&["v0="]),
                    template: "v0:{timestamp}:{body}".into(),
                    timestamp: header_stamp(TimeUnit::Seconds, Some(300), true),
                    ..body_hmac()
                }),
            Handshake::ZoomUrlValidation),
        Field::Json("/event"), None),
    // linear.app/developers/webhooks: hex HMAC of the body; webhookTimestamp (ms) in the body, ±60 s.
    with_event(
        preset("linear", "Linear: Linear-Signature: <hex HMAC-SHA256 of the body>; webhookTimestamp (ms) within 60 s",
            SchemeSpec {
                header_sets: sig("Linear-Signature"),
                timestamp: json_stamp("/webhookTimestamp", TimeUnit::Millis, 60),
                ..body_hmac()
            }),
        Field::Json("/type"), Some(Field::Header("Linear-Delivery"))),
    // developers.intercom.com "Webhooks: signed notifications": X-Hub-Signature sha1=<hex>.
    with_event(
        preset("intercom", "Intercom: X-Hub-Signature: sha1=<hex HMAC-SHA1 of the body>",
            SchemeSpec { algorithm: HmacSha1, header_sets: sig("X-Hub-Signature"), format: whole(&["sha1="]), ..body_hmac() }),
        Field::Json("/topic"), Some(Field::Json("/id"))),
    // documentation.mailgun.com "Securing webhooks": HMAC of timestamp+token, in the JSON body. The
    // body itself is NOT covered by Mailgun's signature; the timestamp window limits replays.
    with_event(
        preset("mailgun", "Mailgun: signature.signature in the JSON body, hex HMAC of timestamp+token (body not covered); 300 s",
            SchemeSpec {
                signature_in_body: Some("/signature/signature".into()),
                template: "{json:/signature/timestamp}{json:/signature/token}".into(),
                timestamp: json_stamp("/signature/timestamp", TimeUnit::Seconds, 300),
                ..body_hmac()
            }),
        Field::Json("/event-data/event"), Some(Field::Json("/event-data/id"))),
    // docs.sendgrid.com "Getting started with the Event Webhook security features": ECDSA P-256 over
    // timestamp+body; the verification key is base64 DER.
    preset("sendgrid", "SendGrid: X-Twilio-Email-Event-Webhook-Signature: <b64 ECDSA P-256> over {ts}{body}; public key",
        SchemeSpec {
            algorithm: EcdsaP256Sha256,
            encoding: Base64,
            key_format: KeyFormat::Base64Der,
            header_sets: vec![headers(&["X-Twilio-Email-Event-Webhook-Signature"], Some("X-Twilio-Email-Event-Webhook-Timestamp"), None)],
            template: "{timestamp}{body}".into(),
            timestamp: header_stamp(TimeUnit::Seconds, None, false),
            ..body_hmac()
        }),
    // discord.com/developers "Interactions: security and authorization": Ed25519 over timestamp+body.
    preset("discord", "Discord: X-Signature-Ed25519: <hex Ed25519> over {ts}{body}; hex public key",
        SchemeSpec {
            algorithm: Ed25519,
            key_format: KeyFormat::Hex,
            header_sets: vec![headers(&["X-Signature-Ed25519"], Some("X-Signature-Timestamp"), None)],
            template: "{timestamp}{body}".into(),
            timestamp: header_stamp(TimeUnit::Seconds, None, false),
            ..body_hmac()
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
            SchemeSpec { encoding: Base64, header_sets: sig("x-square-hmacsha256-signature"), template: "{url}{body}".into(), ..body_hmac() }),
        Field::Json("/type"), Some(Field::Json("/event_id"))),
    // developer.pagerduty.com "Verifying signatures": v1=<hex>[,v1=<hex>] during rotation.
    with_event(
        preset("pagerduty", "PagerDuty: X-PagerDuty-Signature: v1=<hex>[,v1=<hex>] over the body",
            SchemeSpec { header_sets: sig("X-PagerDuty-Signature"), format: list(',', &["v1="]), ..body_hmac() }),
        Field::Json("/event/event_type"), Some(Field::Json("/event/id"))),
    // typeform.com/developers "Webhooks: secure your webhooks": sha256=<base64>.
    with_event(
        preset("typeform", "Typeform: Typeform-Signature: sha256=<b64 HMAC-SHA256 of the body>",
            SchemeSpec { encoding: Base64, header_sets: sig("Typeform-Signature"), format: whole(&["sha256="]), ..body_hmac() }),
        Field::Json("/event_type"), Some(Field::Json("/event_id"))),
    // developer.calendly.com "Webhook signatures": t=<unix>,v1=<hex> over "{t}.{body}", 3 min.
    with_event(
        preset("calendly", "Calendly: Calendly-Webhook-Signature: t=<unix>,v1=<hex> over {t}.{body}; 180 s",
            SchemeSpec {
                header_sets: sig("Calendly-Webhook-Signature"),
                format: stripe_like(',', &["v1"], "t"),
                template: "{timestamp}.{body}".into(),
                timestamp: field_stamp(TimeUnit::Seconds, 180, true),
                ..body_hmac()
            }),
        Field::Json("/event"), None),
    // developers.hubspot.com "Validating requests" v3: method+uri+body+timestamp, ms, 5 min old only.
    preset("hubspot", "HubSpot v3: X-HubSpot-Signature-v3: <b64> over method+public_url+body+ts (ms); 300 s; needs public_url",
        SchemeSpec {
            encoding: Base64,
            header_sets: vec![headers(&["X-HubSpot-Signature-v3"], Some("X-HubSpot-Request-Timestamp"), None)],
            template: "{method}{url_hubspot}{body}{timestamp}".into(),
            timestamp: header_stamp(TimeUnit::Millis, Some(300), false),
            ..body_hmac()
        }),
    // dropbox.com/developers/reference/webhooks: hex HMAC of the body; GET ?challenge= echo.
    with_handshake(
        preset("dropbox", "Dropbox: X-Dropbox-Signature: <hex HMAC-SHA256 of the body>; answers the GET challenge",
            SchemeSpec { header_sets: sig("X-Dropbox-Signature"), ..body_hmac() }),
        Handshake::DropboxChallenge),
    // developer.box.com "Signature verification" (webhooks v2): base64 HMAC of body+timestamp, two
    // keys in PRIMARY and SECONDARY headers, RFC 3339 timestamp within 10 minutes.
    with_event(
        preset("box", "Box: BOX-SIGNATURE-PRIMARY/-SECONDARY: <b64> over {body}{ts}, BOX-DELIVERY-TIMESTAMP RFC 3339; 600 s",
            SchemeSpec {
                encoding: Base64,
                header_sets: vec![headers(&["BOX-SIGNATURE-PRIMARY", "BOX-SIGNATURE-SECONDARY"], Some("BOX-DELIVERY-TIMESTAMP"), None)],
                template: "{body}{timestamp}".into(),
                timestamp: header_stamp(TimeUnit::Rfc3339, Some(600), true),
                ..body_hmac()
            }),
        Field::Json("/trigger"), Some(Field::Header("BOX-DELIVERY-ID"))),
    // support.atlassian.com "Manage webhooks" (Bitbucket Cloud): X-Hub-Signature sha256=<hex>.
    with_event(
        preset("bitbucket", "Bitbucket: X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>",
            SchemeSpec { header_sets: sig("X-Hub-Signature"), format: whole(&["sha256="]), ..body_hmac() }),
        Field::Header("X-Event-Key"), Some(Field::Header("X-Request-UUID"))),

    // --- More senders with documented schemes (shared/providers.md, batches A and B) ---
    // developer.atlassian.com "Jira webhooks: secure admin webhooks".
    with_event(
        preset("jira", "Jira: X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>",
            SchemeSpec { header_sets: sig("X-Hub-Signature"), format: whole(&["sha256="]), ..body_hmac() }),
        Field::Json("/webhookEvent"), None),
    // developer.x.com account activity API "Securing webhooks": sha256=<b64>, CRC challenge.
    with_handshake(
        preset("twitter", "X (Twitter): x-twitter-webhooks-signature: sha256=<b64>; answers the CRC challenge",
            SchemeSpec { encoding: Base64, header_sets: sig("x-twitter-webhooks-signature"), format: whole(&["sha256="]), ..body_hmac() }),
        Handshake::TwitterCrc),
    // devcenter.heroku.com "App webhooks: securing webhook requests".
    with_event(
        preset("heroku", "Heroku: Heroku-Webhook-Hmac-SHA256: <b64 HMAC-SHA256 of the body>",
            SchemeSpec { encoding: Base64, header_sets: sig("Heroku-Webhook-Hmac-SHA256"), ..body_hmac() }),
        Field::Json("/action"), Some(Field::Header("Heroku-Webhook-Id"))),
    // docs.launchdarkly.com "Webhooks: signing webhooks".
    preset("launchdarkly", "LaunchDarkly: X-LD-Signature: <hex HMAC-SHA256 of the body>",
        SchemeSpec { header_sets: sig("X-LD-Signature"), ..body_hmac() }),
    // razorpay.com/docs "Validate webhooks".
    with_event(
        preset("razorpay", "Razorpay: X-Razorpay-Signature: <hex HMAC-SHA256 of the body>",
            SchemeSpec { header_sets: sig("X-Razorpay-Signature"), ..body_hmac() }),
        Field::Json("/event"), Some(Field::Header("x-razorpay-event-id"))),
    // docs.lemonsqueezy.com "Signing requests".
    with_event(
        preset("lemon-squeezy", "Lemon Squeezy: X-Signature: <hex HMAC-SHA256 of the body>",
            SchemeSpec { header_sets: sig("X-Signature"), ..body_hmac() }),
        Field::Json("/meta/event_name"), None),
    // circleci.com/docs/webhooks "Secret token and signature verification".
    with_event(
        preset("circleci", "CircleCI: circleci-signature: v1=<hex>[,...] over the body",
            SchemeSpec { header_sets: sig("circleci-signature"), format: list(',', &["v1="]), ..body_hmac() }),
        Field::Json("/type"), Some(Field::Json("/id"))),
    // docs.sentry.io "Integration platform webhooks: verifying the signature".
    with_event(
        preset("sentry", "Sentry: Sentry-Hook-Signature: <hex HMAC-SHA256 of the body>",
            SchemeSpec { header_sets: sig("Sentry-Hook-Signature"), ..body_hmac() }),
        Field::Header("Sentry-Hook-Resource"), None),
    // developer.hashicorp.com "Notification configurations: notification authenticity".
    preset("terraform", "Terraform Cloud: X-TFE-Notification-Signature: <hex HMAC-SHA512 of the body>",
        SchemeSpec { algorithm: HmacSha512, header_sets: sig("X-TFE-Notification-Signature"), ..body_hmac() }),
    // developer.webex.com "Using a webhook secret".
    preset("webex", "Webex: X-Spark-Signature: <hex HMAC-SHA1 of the body>",
        SchemeSpec { algorithm: HmacSha1, header_sets: sig("X-Spark-Signature"), ..body_hmac() }),
    // workos-node src/webhooks: t=<ms>, v1=<hex> over "{t}.{body}", 180 s.
    with_event(
        preset("workos", "WorkOS: WorkOS-Signature: t=<ms>, v1=<hex> over {t}.{body}; 180 s",
            SchemeSpec {
                header_sets: sig("WorkOS-Signature"),
                format: stripe_like(',', &["v1"], "t"),
                template: "{timestamp}.{body}".into(),
                timestamp: field_stamp(TimeUnit::Millis, 180, true),
                ..body_hmac()
            }),
        Field::Json("/event"), Some(Field::Json("/id"))),
    // replicate.com/docs "Verify webhooks" (Standard Webhooks).
    preset("replicate", "Replicate: Standard Webhooks headers and scheme; whsec_ key", standard_webhooks()),
    // next.developer.frame.io "Webhooks: signature verification": v0=<hex> over v0:{ts}:{body}.
    preset("frameio", "Frame.io: X-Frameio-Signature: v0=<hex> over v0:{ts}:{body}; 300 s",
        SchemeSpec {
            header_sets: vec![headers(&["X-Frameio-Signature"], Some("X-Frameio-Request-Timestamp"), None)],
            format: whole(&["v0="]),
            template: "v0:{timestamp}:{body}".into(),
            timestamp: header_stamp(TimeUnit::Seconds, Some(300), true),
            ..body_hmac()
        }),
    // mux.com/docs "Verify webhook signatures": t=<unix>,v1=<hex> over "{t}.{body}".
    with_event(
        preset("mux", "Mux: mux-signature: t=<unix>,v1=<hex> over {t}.{body}; 300 s",
            SchemeSpec {
                header_sets: sig("mux-signature"),
                format: stripe_like(',', &["v1"], "t"),
                template: "{timestamp}.{body}".into(),
                timestamp: field_stamp(TimeUnit::Seconds, 300, true),
                ..body_hmac()
            }),
        Field::Json("/type"), Some(Field::Json("/id"))),
    // developer.xero.com "Configuring your server": base64 HMAC-SHA256 of the body. The
    // intent-to-receive check is answered by our normal 2xx/401.
    preset("xero", "Xero: x-xero-signature: <b64 HMAC-SHA256 of the body>",
        SchemeSpec { encoding: Base64, header_sets: sig("x-xero-signature"), ..body_hmac() }),
    // developer.zendesk.com "Verifying webhook authenticity": base64 HMAC of timestamp+body.
    preset("zendesk", "Zendesk: X-Zendesk-Webhook-Signature: <b64> over {ts}{body}",
        SchemeSpec {
            encoding: Base64,
            header_sets: vec![headers(&["X-Zendesk-Webhook-Signature"], Some("X-Zendesk-Webhook-Signature-Timestamp"), None)],
            template: "{timestamp}{body}".into(),
            timestamp: header_stamp(TimeUnit::Rfc3339, None, false),
            ..body_hmac()
        }),
    // docs.alchemy.com "Notify API FAQ: validate signatures".
    preset("alchemy", "Alchemy: X-Alchemy-Signature: <hex HMAC-SHA256 of the body>",
        SchemeSpec { header_sets: sig("X-Alchemy-Signature"), ..body_hmac() }),
    // coinbase-commerce-php src/Webhook.php.
    preset("coinbase-commerce", "Coinbase Commerce: X-CC-Webhook-Signature: <hex HMAC-SHA256 of the body>",
        SchemeSpec { header_sets: sig("X-CC-Webhook-Signature"), ..body_hmac() }),
    // developers.docusign.com "Connect: HMAC security": one base64 header per active key.
    preset("docusign", "DocuSign Connect: X-DocuSign-Signature-1/-2: <b64 HMAC-SHA256 of the body>",
        SchemeSpec {
            encoding: Base64,
            header_sets: vec![headers(&["X-DocuSign-Signature-1", "X-DocuSign-Signature-2"], None, None)],
            ..body_hmac()
        }),
    ]
}
