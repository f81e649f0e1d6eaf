//! Senders on ngrok's verify-webhook list that no other family covered: HostedHooks' `t=,s=`
//! signature and VMware Workspace ONE's basic auth. Each row cites what it was checked against.

use crate::verify::handshake::Handshake;
use crate::verify::presets::shapes::*;
use crate::verify::presets::{Preset, Spec};
use crate::verify::scheme::{TimeUnit, TimestampSource};
use crate::verify::spec::SchemeSpec;

pub(in crate::verify::presets) fn rows() -> Vec<Preset> {
    vec![
        // docs.hostedhooks.com "Webhook Signatures": one header carrying `t=<unix>,s=<sig>`, the
        // HMAC-SHA256 of "{t}.{body}" under the endpoint's signing secret; its example signature is 64
        // hex digits. The page names the header by its Rack form, HTTP_HOSTEDHOOKS_SIGNATURE, which is
        // how Rack presents `HostedHooks-Signature`. A new t is signed on every retry, but HostedHooks
        // leaves the window to the receiver, so none is set here (`tolerance` adds one).
        preset(
            "hostedhooks",
            "HostedHooks: HostedHooks-Signature: t=<unix>,s=<hex> over {t}.{body}; no window",
            SchemeSpec {
                header_sets: sig("HostedHooks-Signature"),
                format: stripe_like(',', &["s"], "t"),
                template: "{timestamp}.{body}".into(),
                timestamp: stamp(TimestampSource::SignatureField, TimeUnit::Seconds, None, false),
                ..body_hmac()
            },
        ),
        // ngrok's verify-webhook `vmware` provider (integrations/webhooks/vmware-webhooks: the
        // secret is "{username}::{password}" from the event notification's Username and Password) and
        // VMware's Workspace ONE UEM System Settings Reference, "Event Notifications": a Target URL
        // with a Username and Password, sent as HTTP basic auth. No signature.
        Preset {
            name: "vmware",
            description: "VMware Workspace ONE UEM event notifications: Authorization: Basic <user:pass>, compared in constant time",
            spec: Spec::BasicAuth,
            methods: POST,
            event: None,
            delivery_id: None,
            handshake: Handshake::None,
        },
    ]
}
