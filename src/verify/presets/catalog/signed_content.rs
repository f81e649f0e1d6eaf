//! Senders whose signed content needs more than body and timestamp: nonces, positional lists, the URL after the body, several signature sets, base64url.

use crate::verify::presets::shapes::*;
use crate::verify::presets::Preset;
use crate::verify::scheme::{Encoding, SignatureFormat, TimeUnit, TimestampSource};
use crate::verify::spec::{HeaderSetSpec, SchemeSpec};

pub(in crate::verify::presets) fn rows() -> Vec<Preset> {
    vec![
    // @sanity/webhook (npm) encodeSignatureHeader / createHS256Signature: `t=<ms>,v1=<sig>`, the
    // signature the unpadded base64url HMAC-SHA256 of "{t}.{body}". The SDK checks no freshness
    // window, so none is enforced here (a route's `tolerance` adds one).
    preset("sanity", "Sanity: sanity-webhook-signature: t=<ms>,v1=<base64url> over {t}.{body}; no window",
        SchemeSpec {
            encoding: Encoding::Base64Url,
            header_sets: sig("sanity-webhook-signature"),
            format: stripe_like(',', &["v1"], "t"),
            template: "{timestamp}.{body}".into(),
            timestamp: stamp(TimestampSource::SignatureField, TimeUnit::Millis, None, true),
            ..body_hmac()
        }),
    // plivo-python utils/signature_v3.py (validate_v3_signature, construct_post_url,
    // get_signature_v3): base64 HMAC-SHA256 of the callback URL with its query sorted and the form
    // fields sorted, then "." and X-Plivo-Signature-V3-Nonce; the header may list several
    // signatures, comma-separated. V3 signs no timestamp: a captured request can be replayed.
    Preset {
        methods: POST_GET,
        ..preset("plivo", "Plivo V3: X-Plivo-Signature-V3: <b64>[,<b64>] over the sorted URL and form fields . nonce; needs public_url",
            SchemeSpec {
                encoding: Encoding::Base64,
                header_sets: vec![HeaderSetSpec {
                    nonce: Some("X-Plivo-Signature-V3-Nonce".into()),
                    ..headers(&["X-Plivo-Signature-V3"], None, None)
                }],
                format: list(',', &[""]),
                template: "{url_plivo}.{nonce}".into(),
                ..body_hmac()
            })
    },
    // docs.recurly.com "Signature verification" and recurly-client-ruby Webhooks.verify_signature:
    // `<ms>,<hex>[,<hex>]` (two signatures for 24 h after a key is regenerated) over "{ms}.{body}";
    // ±5 min.
    preset("recurly", "Recurly: recurly-signature: <ms>,<hex>[,<hex>] over {ms}.{body}; ±300 s",
        SchemeSpec {
            header_sets: sig("recurly-signature"),
            format: SignatureFormat::TimestampFirst { separator: ',' },
            template: "{timestamp}.{body}".into(),
            timestamp: stamp(TimestampSource::SignatureField, TimeUnit::Millis, Some(300), true),
            ..body_hmac()
        }),
    // docs.withpersona.com "Webhook best practices: checking signatures": `t=<unix>,v1=<hex>` over
    // "{t}.{body}"; while a secret rotates, two such sets separated by a space, each verified with
    // its own t. The docs define t as the send time but name no window: ±300 s, as Stripe's.
    preset("persona", "Persona: Persona-Signature: t=<unix>,v1=<hex> over {t}.{body}, space-separated sets while rotating; ±300 s",
        SchemeSpec {
            header_sets: sig("Persona-Signature"),
            format: SignatureFormat::Fields {
                separator: ',',
                signature_keys: strings(&["v1"]),
                timestamp_key: Some("t".into()),
                set_separator: Some(' '),
            },
            template: "{timestamp}.{body}".into(),
            timestamp: field_stamp(TimeUnit::Seconds, 300, true),
            ..body_hmac()
        }),
    // @contentful/node-apps-toolkit (npm) signRequest / verifyRequest: hex HMAC-SHA256 of
    // METHOD\nPATH\nSIGNED HEADERS\nBODY, the headers those named in x-contentful-signed-headers
    // (it and x-contentful-timestamp always among them), `name:value` sorted and joined by `;`;
    // the timestamp in ms, refused once 30 s old (the toolkit's default time to live).
    preset("contentful", "Contentful: x-contentful-signature: <hex> over method, path, x-contentful-signed-headers, body; ms timestamp, 30 s; needs public_url",
        SchemeSpec {
            header_sets: vec![HeaderSetSpec {
                signed_headers: Some("x-contentful-signed-headers".into()),
                ..headers(&["x-contentful-signature"], Some("x-contentful-timestamp"), None)
            }],
            template: "{method}\n{path}\n{signed_headers}\n{body}".into(),
            timestamp: header_stamp(TimeUnit::Millis, Some(30), false),
            ..body_hmac()
        }),
    ]
}
