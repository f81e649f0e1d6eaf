//! The README's explicit `verify: {scheme: ...}` examples, Stripe and Standard Webhooks written out,
//! through the running binary: each accepts its preset's known-answer vector over a real socket and
//! refuses the tampered body.

use serde_json::Value;

use crate::support::{header_pairs, http1_request, send_raw, App, Hookguard, APP_STATUS};

const FIXTURES: &str = include_str!("../data/preset-vectors.json");
const README: &str = include_str!("../../README.md");

/// The YAML example that follows `caption` in the README, so the documented text is what is tested.
fn readme_route(caption: &str) -> String {
    let after = &README[README.find(caption).expect("caption in README")..];
    let start = after.find("```yaml\n").expect("yaml block") + "```yaml\n".len();
    let end = start + after[start..].find("```").expect("block end");
    after[start..end].to_string()
}

fn fixture(preset: &str) -> Value {
    let document: Value = serde_json::from_str(FIXTURES).expect("fixtures parse");
    document["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .find(|v| v["preset"] == preset)
        .cloned()
        .expect("fixture")
}

#[tokio::test]
async fn stripe_and_standard_webhooks_written_out_accept_their_preset_vectors() {
    let app = App::start().await;
    let (stripe, standard) = (fixture("stripe"), fixture("standard-webhooks"));
    // The vectors carry fixed timestamps from the past; a ten-year route tolerance keeps them fresh
    // without touching the scheme blocks under test.
    let widen = "    tolerance: 315360000\n";
    let config = format!(
        "listen: 127.0.0.1:0\nupstream: {}\nroutes:\n{}{widen}{}{widen}",
        app.url(),
        readme_route("Stripe, written out"),
        readme_route("Standard Webhooks, written out"),
    );
    assert!(!config.contains("provider:"), "explicit blocks only");
    let proxy = Hookguard::start_with_env(
        &config,
        &[
            ("STRIPE_SECRET", stripe["secret"].as_str().expect("secret")),
            (
                "STANDARD_WEBHOOKS_SECRET",
                standard["secret"].as_str().expect("secret"),
            ),
        ],
    );
    for (path, vector) in [
        ("/webhooks/stripe", &stripe),
        ("/webhooks/standard", &standard),
    ] {
        let body = vector["request"]["body"].as_str().expect("body").as_bytes();
        let genuine = send_raw(
            proxy.addr,
            &http1_request(
                "POST",
                path,
                &header_pairs(&vector["request"]["headers"]),
                body,
            ),
        )
        .await;
        assert_eq!(
            genuine.status,
            APP_STATUS,
            "{path}: {}",
            genuine.body_text()
        );
        let received = app.take();
        assert_eq!(received.len(), 1, "{path}: the app got it once");

        let tampered = vector["tampered_body"]
            .as_str()
            .expect("tampered")
            .as_bytes();
        let refused = send_raw(
            proxy.addr,
            &http1_request(
                "POST",
                path,
                &header_pairs(&vector["request"]["headers"]),
                tampered,
            ),
        )
        .await;
        assert_eq!(refused.status, 401, "{path}: tampered body");
        assert!(app.take().is_empty(), "{path}: the app saw nothing");
    }
}
