//! The YAML a preset is written out as (`hookguard providers --yaml NAME`): the explicit `verify:`
//! block that verifies as the preset does, and notes on what the preset adds beyond it.

use serde::Serialize;

use super::SchemeSpec;
use crate::verify::handshake::Handshake;
use crate::verify::presets::{Preset, Spec};

/// The `verify:` shape, for rendering only: the config reads the same keys.
#[derive(Serialize)]
struct VerifyBlock<'a> {
    verify: VerifyKeys<'a>,
}

/// Exactly one key is set, as the config requires.
#[derive(Serialize, Default)]
struct VerifyKeys<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    scheme: Option<&'a SchemeSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    header_token: Option<HeaderToken<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwt: Option<&'a crate::verify::jwt::JwtSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query_token: Option<QueryToken<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    basic_auth: Option<BasicAuth>,
}

#[derive(Serialize)]
struct QueryToken<'a> {
    param: &'a str,
}

/// Renders as `basic_auth: {}`.
#[derive(Serialize)]
struct BasicAuth {}

#[derive(Serialize)]
struct HeaderToken<'a> {
    header: &'a str,
}

/// The explicit `verify:` block that verifies as `preset` does, to paste in place of `provider:`.
/// What a preset adds beyond verification (methods, event fields, handshake) follows as comments.
pub fn verify_yaml(preset: &Preset) -> Result<String, serde_yaml::Error> {
    if let Spec::AwsSns = preset.spec {
        return Ok(format!(
            "# {} has no explicit `verify:` form: each message names its own certificate, so the\n# route says `provider: {}` (with cert_url_pattern, topic_arns, confirm_subscription)\n",
            preset.name, preset.name
        ));
    }
    let verify = match &preset.spec {
        Spec::Signature(spec) => VerifyKeys {
            scheme: Some(spec),
            ..VerifyKeys::default()
        },
        Spec::HeaderToken(header) => VerifyKeys {
            header_token: Some(HeaderToken { header }),
            ..VerifyKeys::default()
        },
        Spec::Jwt(spec) => VerifyKeys {
            jwt: Some(spec),
            ..VerifyKeys::default()
        },
        Spec::QueryToken(param) => VerifyKeys {
            query_token: Some(QueryToken { param }),
            ..VerifyKeys::default()
        },
        Spec::BasicAuth => VerifyKeys {
            basic_auth: Some(BasicAuth {}),
            ..VerifyKeys::default()
        },
        Spec::AwsSns => VerifyKeys::default(),
    };
    let mut text = serde_yaml::to_string(&VerifyBlock { verify })?;
    for note in beyond_verify(preset) {
        text.push_str(&format!("# {note}\n"));
    }
    Ok(text)
}

fn beyond_verify(preset: &Preset) -> Vec<String> {
    let mut notes = Vec::new();
    let methods: Vec<&str> = preset.methods.iter().map(http::Method::as_str).collect();
    let default_methods: &[&str] = &["POST"];
    if methods != default_methods {
        notes.push(format!(
            "the preset also sets methods: [{}]",
            methods.join(", ")
        ));
    }
    if preset.handshake != Handshake::None {
        notes.push(format!(
            "the preset also answers a setup handshake ({:?}), which verify: cannot",
            preset.handshake
        ));
    }
    if preset.handshake.needs_verify_token() {
        notes.push("with provider:, the route also needs verify_token: the Verify Token given to the provider".into());
    }
    if preset.event.is_some() || preset.delivery_id.is_some() {
        notes.push("the preset also knows the event type and delivery id (events:, logs), which verify: does not".into());
    }
    notes
}
