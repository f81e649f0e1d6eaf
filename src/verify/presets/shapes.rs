//! The shapes preset rows are built from: the commonest scheme (HMAC-SHA256 of the body, hex, one
//! header), Standard Webhooks, header sets, signature formats and timestamp rules, so a row states
//! only how its sender differs.

use http::Method;

use super::{Preset, Spec};
use crate::verify::handshake::Handshake;
use crate::verify::keys::KeyFormat;
use crate::verify::scheme::{Algorithm, Encoding, SignatureFormat, TimeUnit, TimestampSource};
use crate::verify::spec::{HeaderSetSpec, SchemeSpec, TimestampSpec};
use crate::verify::Field;

/// HMAC-SHA256 over the raw body, hex, in one header: the shape most rows start from.
pub(crate) fn body_hmac() -> SchemeSpec {
    SchemeSpec {
        algorithm: Algorithm::HmacSha256,
        encoding: Encoding::Hex,
        key_format: KeyFormat::Raw,
        header_sets: Vec::new(),
        signature_in_body: None,
        format: whole(&[]),
        template: "{body}".into(),
        timestamp: None,
        body_sha256_param: None,
        prehash: None,
    }
}

/// Standard Webhooks: `{id}.{timestamp}.{body}`, `v1,<b64>` list, `whsec_` keys, ±5 min.
pub(crate) fn standard_webhooks() -> SchemeSpec {
    SchemeSpec {
        encoding: Encoding::Base64,
        key_format: KeyFormat::Whsec,
        header_sets: vec![webhook_headers()],
        format: list(' ', &["v1,"]),
        template: "{id}.{timestamp}.{body}".into(),
        timestamp: header_stamp(TimeUnit::Seconds, Some(300), true),
        ..body_hmac()
    }
}

pub(crate) fn webhook_headers() -> HeaderSetSpec {
    headers(
        &["webhook-signature"],
        Some("webhook-timestamp"),
        Some("webhook-id"),
    )
}

pub(crate) fn svix_headers() -> HeaderSetSpec {
    headers(&["svix-signature"], Some("svix-timestamp"), Some("svix-id"))
}

pub(crate) fn headers(
    signatures: &[&str],
    timestamp: Option<&str>,
    id: Option<&str>,
) -> HeaderSetSpec {
    HeaderSetSpec {
        signatures: signatures.iter().map(|n| n.to_string()).collect(),
        timestamp: timestamp.map(str::to_string),
        id: id.map(str::to_string),
        ..Default::default()
    }
}

/// One signature header and nothing else, the commonest shape.
pub(crate) fn sig(name: &str) -> Vec<HeaderSetSpec> {
    vec![headers(&[name], None, None)]
}

pub(crate) fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub(crate) fn whole(prefixes: &[&str]) -> SignatureFormat {
    SignatureFormat::Whole {
        prefixes: strings(prefixes),
    }
}

pub(crate) fn list(separator: char, prefixes: &[&str]) -> SignatureFormat {
    SignatureFormat::List {
        separator,
        prefixes: strings(prefixes),
    }
}

pub(crate) fn stripe_like(
    separator: char,
    signatures: &[&str],
    timestamp: &str,
) -> SignatureFormat {
    SignatureFormat::Fields {
        separator,
        signature_keys: strings(signatures),
        timestamp_key: Some(timestamp.to_string()),
        set_separator: None,
    }
}

pub(crate) fn stamp(
    source: TimestampSource,
    unit: TimeUnit,
    tolerance: Option<u64>,
    reject_future: bool,
) -> Option<TimestampSpec> {
    Some(TimestampSpec {
        source,
        unit,
        tolerance,
        reject_future,
    })
}

pub(crate) fn header_stamp(
    unit: TimeUnit,
    tolerance: Option<u64>,
    reject_future: bool,
) -> Option<TimestampSpec> {
    stamp(TimestampSource::Header, unit, tolerance, reject_future)
}

pub(crate) fn field_stamp(
    unit: TimeUnit,
    tolerance: u64,
    reject_future: bool,
) -> Option<TimestampSpec> {
    stamp(
        TimestampSource::SignatureField,
        unit,
        Some(tolerance),
        reject_future,
    )
}

/// A timestamp inside the signed JSON body, checked both ways.
pub(crate) fn json_stamp(pointer: &str, unit: TimeUnit, tolerance: u64) -> Option<TimestampSpec> {
    stamp(
        TimestampSource::Json(pointer.to_string()),
        unit,
        Some(tolerance),
        true,
    )
}

pub(crate) const POST: &[Method] = &[Method::POST];
pub(crate) const POST_GET: &[Method] = &[Method::POST, Method::GET];

pub(crate) fn preset(name: &'static str, description: &'static str, spec: SchemeSpec) -> Preset {
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

pub(crate) fn with_event(mut preset: Preset, event: Field, delivery_id: Option<Field>) -> Preset {
    preset.event = Some(event);
    preset.delivery_id = delivery_id;
    preset
}

pub(crate) fn with_handshake(mut preset: Preset, handshake: Handshake) -> Preset {
    preset.handshake = handshake;
    preset.methods = POST_GET;
    preset
}
