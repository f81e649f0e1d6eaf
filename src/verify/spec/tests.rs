//! Every preset written out in YAML verifies as the preset does, and doubtful descriptions are
//! refused naming the key.

use super::*;
use crate::config::{Config, ConfigError};
use crate::verify::presets::{self, Spec};
use crate::verify::vector_cases::{vectors, Case};
use crate::verify::{Rejection, Verifier};

/// A config with the preset's route and, beside it, the explicit block `providers --yaml` prints.
fn preset_and_explicit_routes(case: &Case, secret: &str) -> (Verifier, Verifier) {
    let block = verify_yaml(case.preset).expect("renders");
    let explicit: String = block.lines().map(|line| format!("    {line}\n")).collect();
    let public_url = case
        .url
        .as_ref()
        .map_or(String::new(), |url| format!("    public_url: {url}\n"));
    // The hub challenge's token sits beside the route's keys; the explicit block answers no handshake.
    let verify_token = "    verify_token: {value: vt}\n";
    let preset_extra = if case.preset.handshake.needs_verify_token() {
        format!("{public_url}{verify_token}")
    } else {
        public_url.clone()
    };
    let yaml = format!(
        "upstream: http://127.0.0.1:3000\nroutes:\n  - path: /preset\n    provider: {}\n    secrets: [{{env: KEY}}]\n{preset_extra}  - path: /explicit\n{explicit}    secrets: [{{env: KEY}}]\n{public_url}",
        case.preset.name
    );
    let mut config = Config::from_yaml(&yaml, |name| (name == "KEY").then(|| secret.to_string()))
        .unwrap_or_else(|e| panic!("{}: {e}\n{yaml}", case.preset.name));
    let explicit = config.routes.pop().expect("explicit route").verifier;
    let preset = config.routes.pop().expect("preset route").verifier;
    (preset, explicit)
}

/// SNS names its certificate in each message, so it is a preset only (see `verify_yaml`).
fn has_no_verify_form(preset: &presets::Preset) -> bool {
    matches!(preset.spec, Spec::AwsSns)
}

#[test]
fn every_preset_written_out_in_yaml_verifies_as_the_preset_does() {
    let mut checked = Vec::new();
    for vector in vectors() {
        let case = Case::from(&vector);
        let name = case.preset.name;
        if has_no_verify_form(case.preset) {
            continue;
        }
        let (preset, explicit) = preset_and_explicit_routes(&case, &case.secret);
        let verdicts = |body: &[u8], now| {
            (
                case.check_with(&preset, &case.headers, body, now),
                case.check_with(&explicit, &case.headers, body, now),
            )
        };
        assert_eq!(
            verdicts(&case.body, case.now),
            (Ok(()), Ok(())),
            "{name}: known answer"
        );
        let (by_preset, by_block) = verdicts(&case.tampered, case.now);
        assert_eq!(by_preset, by_block, "{name}: tampered");
        if case.tampered != case.body {
            assert!(by_block.is_err(), "{name}: tampered body accepted");
        }
        if let Some((margin, _)) = case.stale_margin() {
            let stale = verdicts(&case.body, case.now + margin);
            assert_eq!(
                stale,
                (
                    Err(Rejection::StaleTimestamp),
                    Err(Rejection::StaleTimestamp)
                ),
                "{name}: stale"
            );
            let (by_preset, by_block) = verdicts(&case.body, case.now - margin);
            assert_eq!(by_preset, by_block, "{name}: future");
        }
        let (preset, explicit) = preset_and_explicit_routes(&case, &case.wrong_secret);
        let wrong = (
            case.check_with(&preset, &case.headers, &case.body, case.now),
            case.check_with(&explicit, &case.headers, &case.body, case.now),
        );
        let mismatch = Err(Rejection::SignatureMismatch);
        assert_eq!(wrong, (mismatch, mismatch), "{name}: wrong key");
        checked.push(name);
    }
    for preset in presets::all().iter().filter(|p| !has_no_verify_form(p)) {
        assert!(
            checked.contains(&preset.name),
            "{} not checked",
            preset.name
        );
    }
}

#[test]
fn the_rendered_block_reads_back_as_the_same_description() {
    #[derive(Deserialize)]
    struct Block {
        verify: Keys,
    }
    #[derive(Deserialize)]
    struct Keys {
        scheme: SchemeSpec,
    }
    for preset in presets::all() {
        let Spec::Signature(spec) = &preset.spec else {
            continue;
        };
        let text = verify_yaml(preset).expect("renders");
        let block: Block = serde_yaml::from_str(&text).expect("parses");
        assert_eq!(&block.verify.scheme, spec, "{}", preset.name);
    }
}

#[test]
fn the_readme_examples_are_the_presets_written_out() {
    const README: &str = include_str!("../../../README.md");
    for (caption, name) in [
        ("Stripe, written out", "stripe"),
        ("Standard Webhooks, written out", "standard-webhooks"),
    ] {
        let after = &README[README.find(caption).expect("caption")..];
        let start = after.find("```yaml\n").expect("block") + "```yaml\n".len();
        let end = start + after[start..].find("```").expect("block end");
        let routes: Vec<serde_yaml::Value> =
            serde_yaml::from_str(&after[start..end]).expect("README example parses");
        let written: SchemeSpec =
            serde_yaml::from_value(routes[0]["verify"]["scheme"].clone()).expect("a scheme");
        let Some(Spec::Signature(preset)) = presets::find(name).map(|p| &p.spec) else {
            panic!("{name} is a signature preset");
        };
        assert_eq!(&written, preset, "{caption}");
    }
}

fn route(verify: &str) -> Result<Config, ConfigError> {
    let yaml = format!(
        "upstream: http://127.0.0.1:3000\nroutes:\n  - path: /x\n    verify: {verify}\n    secrets: [{{value: k}}]\n"
    );
    Config::from_yaml(&yaml, |_| None)
}

fn refusal(loaded: Result<Config, ConfigError>) -> String {
    match loaded {
        Ok(_) => panic!("the config should be refused"),
        Err(error) => error.to_string(),
    }
}

fn scheme_of(config: &Config) -> Scheme {
    match &config.routes[0].verifier {
        Verifier::Signature(verifier) => verifier.scheme().clone(),
        Verifier::Token(_) | Verifier::Jwt(_) | Verifier::Sns(_) => {
            panic!("a signature route expected")
        }
    }
}

const GOOD: &str = "{scheme: {algorithm: hmac-sha256, encoding: hex, key_format: raw, header_sets: [{signatures: [X-S], timestamp: X-T}], template: '{timestamp}.{body}', timestamp: {source: header, unit: s, tolerance: 300}}}";

#[test]
fn the_short_hmac_form_means_the_same_scheme_as_the_full_one() {
    let short =
        route("{hmac: {header: X-S, template: '{timestamp}.{body}', timestamp_header: X-T}}")
            .expect("short form loads");
    let full = route(GOOD).expect("full form loads");
    assert_eq!(scheme_of(&short), scheme_of(&full));
}

#[test]
fn doubtful_descriptions_are_refused_naming_the_key() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "key_format: raw, ",
            "key_format: raw, colour: red, ",
            &["colour"],
        ),
        ("key_format: raw, ", "", &["key_format"]),
        (", tolerance: 300", "", &["tolerance"]),
        ("tolerance: 300", "tolerance: soon", &["soon"]),
        ("source: header", "source: somewhere", &["somewhere"]),
        ("hmac-sha256", "md5", &["md5"]),
        (
            "'{timestamp}.{body}'",
            "'{timestamp}'",
            &["verify.scheme.template", "covers nothing"],
        ),
        (
            "'{timestamp}.{body}'",
            "'{body}'",
            &["verify.scheme.timestamp.source", "does not sign"],
        ),
        (
            "template:",
            "format: {style: list, separator: '\u{e9}', prefixes: ['v1,']}, template:",
            &["format.separator"],
        ),
        (
            "'{timestamp}.{body}'",
            "'{timestamp}{form_params}'",
            &["verify.scheme.template", "form_params", "unsigned"],
        ),
        (", timestamp: X-T}", "}", &["header_sets[0].timestamp"]),
        (
            "signatures: [X-S]",
            "signatures: []",
            &["header_sets[0].signatures"],
        ),
        (
            "signatures: [X-S]",
            "signatures: ['bad header']",
            &["header_sets[0].signatures[0]"],
        ),
        (
            "source: header",
            "source: signature_field",
            &["verify.scheme.header_sets[0].timestamp"],
        ),
        (
            "template:",
            "format: {style: list, separator: ' ', prefixes: []}, template:",
            &["format.prefixes"],
        ),
        (
            "template:",
            "format: {style: whole, separator: ','}, template:",
            &["separator"],
        ),
        (
            "template:",
            "format: {style: sideways}, template:",
            &["sideways"],
        ),
        (
            "hmac-sha256, encoding: hex, key_format: raw",
            "ed25519, encoding: hex, key_format: raw",
            &["key_format", "hex or base64"],
        ),
        (
            "'{timestamp}.{body}'",
            "'{id}.{timestamp}.{body}'",
            &["header_sets[0].id"],
        ),
        (
            "hmac-sha256, encoding: hex, key_format: raw",
            "rsa-pkcs1-sha256, encoding: hex, key_format: raw",
            &["key_format", "pem"],
        ),
        (
            "hmac-sha256, encoding: hex, key_format: raw",
            "hmac-sha256, encoding: hex, key_format: pem",
            &["key_format", "pem"],
        ),
        (
            "hmac-sha256, encoding: hex, key_format: raw",
            "rsa-pss-sha256, encoding: base64, key_format: pem",
            &["secrets[0]", "PEM RSA public key"],
        ),
        ("template:", "prehash: md5, template:", &["md5"]),
        (
            "'{timestamp}.{body}'",
            "'{timestamp}.{body}.{nonce}'",
            &["header_sets[0].nonce", "{nonce}"],
        ),
        (
            ", timestamp: X-T}",
            ", timestamp: X-T, nonce: X-N}",
            &["header_sets[0].nonce"],
        ),
        (
            "'{timestamp}.{body}'",
            "'{method}{signed_headers}{body}'",
            &["header_sets[0].signed_headers"],
        ),
        (
            "template:",
            "format: {style: list, separator: ',', prefixes: ['', 'v1=']}, template:",
            &["format.prefixes"],
        ),
        (
            "template:",
            "format: {style: fields, separator: ',', signature_keys: [v1], timestamp_key: t, set_separator: ','}, template:",
            &["format.set_separator"],
        ),
        (
            "template:",
            "format: {style: timestamp_first, separator: ','}, template:",
            &["timestamp.source", "timestamp_first"],
        ),
    ];
    for (from, to, needles) in cases {
        assert!(GOOD.contains(from), "{from}");
        let text = route(&GOOD.replacen(from, to, 1))
            .err()
            .unwrap_or_else(|| panic!("{to:?} should be refused"))
            .to_string();
        for needle in *needles {
            assert!(text.contains(needle), "{text:?} should mention {needle:?}");
        }
    }
    let both = "{hmac: {header: X-S}, scheme: {algorithm: hmac-sha256, encoding: hex, key_format: raw, header_sets: [{signatures: [X-S]}], template: '{body}'}}";
    assert!(refusal(route(both)).contains("exactly one"));
}

#[test]
fn tolerance_on_a_scheme_that_signs_no_timestamp_is_still_refused() {
    let yaml = "upstream: http://127.0.0.1:3000\nroutes:\n  - path: /x\n    verify: {scheme: {algorithm: hmac-sha256, encoding: hex, key_format: raw, header_sets: [{signatures: [X-S]}], template: '{body}'}}\n    tolerance: 60\n    secrets: [{value: k}]\n";
    let text = refusal(Config::from_yaml(yaml, |_| None));
    assert!(
        text.contains("tolerance") && text.contains("no timestamp"),
        "{text}"
    );
}

#[test]
fn jwt_routes_refuse_keys_of_another_kind_and_a_second_scheme() {
    let jwt = "{header: X-J, algorithms: [rs256], body_hash_claim: h, body_hash_encoding: base64}";
    let text = refusal(route(&format!("{{jwt: {jwt}}}")));
    assert!(
        text.contains("secrets[0]") && text.contains("hs256"),
        "{text}"
    );
    let hmac = jwt.replace("rs256", "hs256");
    assert!(route(&format!("{{jwt: {hmac}}}")).is_ok());
    let both = format!("{{jwt: {hmac}, header_token: {{header: X-T}}}}");
    assert!(refusal(route(&both)).contains("exactly one"));
    let unknown = hmac.replace("hs256", "none");
    assert!(refusal(route(&format!("{{jwt: {unknown}}}"))).contains("none"));
}

#[test]
fn the_new_pieces_load_from_yaml() {
    for verify in [
        "{scheme: {algorithm: hmac-sha256, encoding: base64url, key_format: raw, header_sets: [{signatures: [X-S]}], template: '{body}'}}",
        "{scheme: {algorithm: hmac-sha256, encoding: hex, key_format: raw, header_sets: [{signatures: [X-S]}], format: {style: timestamp_first, separator: ','}, template: '{timestamp}.{body}', timestamp: {source: signature_field, unit: ms, tolerance: 300}}}",
        "{scheme: {algorithm: hmac-sha256, encoding: hex, key_format: raw, header_sets: [{signatures: [X-S]}], format: {style: fields, separator: ',', signature_keys: [v1], timestamp_key: t, set_separator: ' '}, template: '{timestamp}.{body}', timestamp: {source: signature_field, unit: s, tolerance: 300}}}",
        "{scheme: {algorithm: hmac-sha256, encoding: base64, key_format: raw, header_sets: [{signatures: [X-S], nonce: X-N}], format: {style: list, separator: ',', prefixes: ['']}, template: '{body}.{nonce}'}}",
    ] {
        route(verify).unwrap_or_else(|e| panic!("{verify}: {e}"));
    }
}
