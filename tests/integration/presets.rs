//! Every preset through the running binary: signed by `hookguard sign` (HMAC presets) or replayed
//! from the known-answer fixtures (public-key and token presets), then tampered with. Also the
//! handshakes, shadow mode, `events` and `not_after`.

use std::process::Command;

use serde_json::{json, Value};

use crate::support::run_binary;
use crate::support::{
    binary, header_pairs, http1_request, send_raw, App, Hookguard, APP_BODY, APP_STATUS,
};

const FIXTURES: &str = include_str!("../data/preset-vectors.json");

fn fixtures() -> Vec<Value> {
    let document: Value = serde_json::from_str(FIXTURES).expect("fixtures parse");
    document["vectors"].as_array().expect("vectors").clone()
}

/// Presets that check a shared token or a login rather than a signature: their fixtures are replayed
/// as they stand, and a tampered body passes, since nothing covers it.
const TOKEN_PRESETS: &[&str] = &[
    "gitlab",
    "okta",
    "mailchimp",
    "postmark",
    "chargebee",
    "pipedrive",
    "vmware",
];

fn preset_names() -> Vec<String> {
    let output = Command::new(binary())
        .arg("providers")
        .output()
        .expect("providers");
    String::from_utf8(output.stdout)
        .expect("utf8")
        .lines()
        .map(|line| line.split(' ').next().unwrap_or("").to_string())
        .collect()
}

/// Runs `hookguard sign` with the secret in an environment variable; returns its header lines.
fn sign(preset: &str, secret: &str, body: &[u8], url: Option<&str>) -> Vec<(String, String)> {
    sign_with(preset, secret, body, url, None)
}

fn sign_with(
    preset: &str,
    secret: &str,
    body: &[u8],
    url: Option<&str>,
    content_type: Option<&str>,
) -> Vec<(String, String)> {
    let mut args = vec![
        "sign",
        "--provider",
        preset,
        "--secret-env",
        "PRESET_TEST_SECRET",
    ];
    if let Some(url) = url {
        args.extend(["--url", url]);
    }
    if let Some(content_type) = content_type {
        args.extend(["--content-type", content_type]);
    }
    args.push("-");
    let output = run_binary(&args, &[("PRESET_TEST_SECRET", secret)], body);
    assert!(
        output.status.success(),
        "sign {preset}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf8")
        .lines()
        .map(|line| {
            let (name, value) = line.split_once(": ").expect("Name: value");
            (name.to_string(), value.to_string())
        })
        .collect()
}

#[tokio::test]
async fn every_preset_accepts_a_genuine_delivery_and_refuses_a_tampered_one() {
    let app = App::start().await;
    let fixtures = fixtures();
    // aws-sns verifies with a certificate it fetches, not a secret: tests/integration/sns.rs.
    let names: Vec<String> = preset_names()
        .into_iter()
        .filter(|name| name != "aws-sns")
        .collect();
    assert!(names.len() > 30, "{names:?}");
    let fixture_for = |name: &str| {
        fixtures
            .iter()
            .find(|f| f["preset"] == name)
            .unwrap_or_else(|| panic!("no fixture for {name}"))
            .clone()
    };
    // One proxy with a route per preset, so the whole table is exercised in one process.
    let routes: Vec<Value> = names
        .iter()
        .map(|name| {
            let fixture = fixture_for(name);
            let mut route = json!({
                "path": format!("/p/{name}"),
                "name": name,
                "provider": name,
                "secrets": [{ "value": fixture["secret"] }],
            });
            if let Some(url) = fixture["request"]["url"].as_str() {
                route["public_url"] = json!(url);
            }
            if name == "meta" {
                route["verify_token"] = json!({"value": "meta-verify-token"});
            }
            route
        })
        .collect();
    let config = json!({ "listen": "127.0.0.1:0", "upstream": app.url(), "routes": routes });
    let proxy = Hookguard::start(&config.to_string());

    for name in &names {
        if name == "bridge" {
            // Bridge's timestamp must be fresh and only its private key signs: keyed.rs signs one
            // at test time with a key of its own.
            continue;
        }
        let fixture = fixture_for(name);
        let path = format!("/p/{name}");
        // A replayed token fixture keeps its query (Mailchimp's token rides there); signed presets are
        // signed afresh for the bare path.
        let target = match fixture["request"]["query"].as_str() {
            Some(query) if !query.is_empty() && TOKEN_PRESETS.contains(&name.as_str()) => {
                format!("{path}?{query}")
            }
            _ => path.clone(),
        };
        let url = fixture["request"]["url"].as_str();
        let (headers, body, tampered, unsigned_body) = match name.as_str() {
            // Public-key and token presets cannot be signed by hookguard: their fixtures, whose
            // timestamps these providers do not bound, are replayed as they stand.
            _ if ["discord", "sendgrid", "fireblocks", "fusionauth"].contains(&name.as_str())
                || TOKEN_PRESETS.contains(&name.as_str()) =>
            {
                (
                    header_pairs(&fixture["request"]["headers"]),
                    fixture["request"]["body"]
                        .as_str()
                        .expect("body")
                        .to_string(),
                    format!("{}x", fixture["request"]["body"].as_str().expect("body")),
                    None,
                )
            }
            "twilio" | "plivo" => {
                // Twilio and Plivo sign form fields; a JSON body without Twilio's bodySHA256 is
                // refused (below), and Plivo refuses any body that is not form fields.
                let form = "Body=ping&From=%2B15551234567";
                let mut headers = sign_with(
                    name,
                    fixture["secret"].as_str().expect("secret"),
                    form.as_bytes(),
                    url,
                    Some("application/x-www-form-urlencoded"),
                );
                headers.push((
                    "Content-Type".to_string(),
                    "application/x-www-form-urlencoded".to_string(),
                ));
                (
                    headers,
                    form.to_string(),
                    form.replace("ping", "pong"),
                    None,
                )
            }
            "mailgun" => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock")
                    .as_secs();
                let unsigned = json!({"signature": {"timestamp": now.to_string(), "token": "tok-123", "signature": ""}, "event-data": {"event": "delivered"}}).to_string();
                let signed = sign(
                    name,
                    fixture["secret"].as_str().expect("secret"),
                    unsigned.as_bytes(),
                    None,
                );
                let body = unsigned.replace(
                    r#""signature":"""#,
                    &format!(r#""signature":"{}""#, signed[0].1),
                );
                (
                    vec![],
                    body.clone(),
                    body.replace("tok-123", "tok-124"),
                    Some(unsigned),
                )
            }
            // Telnyx signs with an Ed25519 key and bounds its timestamp, so its fixture cannot be
            // replayed; tests/integration/hmac_a.rs signs a fresh one.
            "telnyx" => continue,
            _ => {
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock")
                    .as_millis();
                let body = if name == "linear" {
                    json!({"type": "Issue", "webhookTimestamp": now_ms}).to_string()
                } else {
                    // Pusher bounds the `time_ms` in its body; the other presets ignore it.
                    json!({"type": "ping", "event": "ping", "preset": name, "time_ms": now_ms})
                        .to_string()
                };
                let headers = sign(
                    name,
                    fixture["secret"].as_str().expect("secret"),
                    body.as_bytes(),
                    url,
                );
                let tampered = body.replace("ping", "pong").replace("Issue", "Issuf");
                (headers, body, tampered, None)
            }
        };
        let good = send_raw(
            proxy.addr,
            &http1_request("POST", &target, &headers, body.as_bytes()),
        )
        .await;
        assert_eq!(
            good.status,
            APP_STATUS,
            "{name}: {} with {headers:?}",
            good.body_text()
        );
        assert_eq!(good.body_text(), APP_BODY);
        let received = app.take();
        assert_eq!(received.len(), 1, "{name}");
        assert_eq!(
            received[0].body.as_ref(),
            body.as_bytes(),
            "{name}: exact bytes"
        );
        assert_eq!(received[0].headers["x-hookguard-route"], name.as_str());

        let forged = send_raw(
            proxy.addr,
            &http1_request("POST", &target, &headers, tampered.as_bytes()),
        )
        .await;
        if TOKEN_PRESETS.contains(&name.as_str()) {
            // A shared token or login covers no body: such a scheme cannot see tampering.
            assert_eq!(forged.status, APP_STATUS, "{name}");
        } else {
            assert_eq!(forged.status, 401, "{name}: tampered body accepted");
        }
        app.take();
        // Mailgun signs inside the body, so its unsigned form has an empty signature field.
        let unsigned_body = unsigned_body.unwrap_or_else(|| body.clone());
        let unsigned = send_raw(
            proxy.addr,
            &http1_request("POST", &path, &[], unsigned_body.as_bytes()),
        )
        .await;
        assert_eq!(unsigned.status, 401, "{name}: no signature accepted");
        assert!(app.take().is_empty(), "{name}");
    }

    // Twilio's signature covers a JSON body only through bodySHA256 in the URL; without it the body
    // would be unsigned, so such a request is refused even with a valid URL signature.
    let twilio = fixture_for("twilio");
    let json_body = r#"{"CallSid":"CA1"}"#;
    let url_only = {
        use base64::Engine as _;
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(
            twilio["secret"].as_str().expect("secret").as_bytes(),
        )
        .expect("key");
        mac.update(twilio["request"]["url"].as_str().expect("url").as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    };
    let headers = vec![("X-Twilio-Signature".to_string(), url_only)];
    let response = send_raw(
        proxy.addr,
        &http1_request("POST", "/p/twilio", &headers, json_body.as_bytes()),
    )
    .await;
    assert_eq!(response.status, 401);
    proxy.wait_for_log("reason=unsigned_body");
    assert!(app.take().is_empty());
}

fn single_route(app: &App, route: Value) -> Hookguard {
    Hookguard::start(
        &json!({ "listen": "127.0.0.1:0", "upstream": app.url(), "routes": [route] }).to_string(),
    )
}

#[tokio::test]
async fn handshakes_are_answered_by_hookguard_and_never_reach_the_app() {
    let app = App::start().await;
    let dropbox = single_route(
        &app,
        json!({"path": "/dropbox", "provider": "dropbox", "secrets": [{"value": "dropbox-app-secret"}]}),
    );
    let response = send_raw(
        dropbox.addr,
        &http1_request("GET", "/dropbox?challenge=abc123XYZ", &[], b""),
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "abc123XYZ");
    assert_eq!(response.header("content-type"), Some("text/plain"));
    let no_challenge = send_raw(dropbox.addr, &http1_request("GET", "/dropbox", &[], b"")).await;
    assert_eq!(
        no_challenge.status, 401,
        "a GET without a challenge is an unsigned request"
    );
    dropbox.wait_for_log("outcome=handshake");

    let twitter = single_route(
        &app,
        json!({"path": "/x", "provider": "twitter", "secrets": [{"value": "consumer-secret"}]}),
    );
    let response = send_raw(
        twitter.addr,
        &http1_request("GET", "/x?crc_token=challenge-token", &[], b""),
    )
    .await;
    assert_eq!(response.status, 200);
    let expected = {
        use base64::Engine as _;
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"consumer-secret").expect("key");
        mac.update(b"challenge-token");
        format!(
            "sha256={}",
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        )
    };
    let answer: Value = serde_json::from_slice(&response.body).expect("json");
    assert_eq!(answer["response_token"], expected.as_str());

    let zoom = single_route(
        &app,
        json!({"path": "/zoom", "provider": "zoom", "secrets": [{"value": "zoom-secret-token"}]}),
    );
    let body = json!({"event": "endpoint.url_validation", "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}}).to_string();
    let headers = sign("zoom", "zoom-secret-token", body.as_bytes(), None);
    let response = send_raw(
        zoom.addr,
        &http1_request("POST", "/zoom", &headers, body.as_bytes()),
    )
    .await;
    assert_eq!(response.status, 200);
    let answer: Value = serde_json::from_slice(&response.body).expect("json");
    assert_eq!(answer["plainToken"], "qgg8vlvZRS6UYooatFL8Aw");
    assert_eq!(
        answer["encryptedToken"],
        crate::support::hmac_sha256_hex(b"zoom-secret-token", b"qgg8vlvZRS6UYooatFL8Aw")
    );
    let unsigned = send_raw(
        zoom.addr,
        &http1_request("POST", "/zoom", &[], body.as_bytes()),
    )
    .await;
    assert_eq!(
        unsigned.status, 401,
        "Zoom's validation is answered only when signed"
    );
    assert!(app.take().is_empty());
}

#[tokio::test]
async fn shadow_mode_forwards_everything_marked_with_the_verdict() {
    let app = App::start().await;
    let proxy = single_route(
        &app,
        json!({"path": "/gh", "provider": "github", "enforce": false, "secrets": [{"value": "shadow-secret"}]}),
    );
    let body = br#"{"zen":"shadow"}"#;
    let good = sign("github", "shadow-secret", body, None);
    let forged = vec![(
        "X-Hub-Signature-256".to_string(),
        format!("sha256={}", "0".repeat(64)),
    )];
    for (headers, verdict) in [
        (good, "ok"),
        (forged, "signature_mismatch"),
        (vec![], "missing_signature"),
    ] {
        let spoof = [
            ("X-Hookguard-Shadow".to_string(), "ok".to_string()),
            ("X-Hookguard-Route".to_string(), "gh".to_string()),
        ];
        let all: Vec<(String, String)> = headers.into_iter().chain(spoof).collect();
        let response = send_raw(proxy.addr, &http1_request("POST", "/gh", &all, body)).await;
        assert_eq!(response.status, APP_STATUS, "{verdict}");
        let received = app.take();
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].headers["x-hookguard-shadow"], verdict);
        assert_eq!(
            received[0]
                .headers
                .get_all("x-hookguard-shadow")
                .iter()
                .count(),
            1
        );
        assert!(
            !received[0].headers.contains_key("x-hookguard-route"),
            "shadow mode never marks a delivery verified"
        );
    }
    proxy.wait_for_log("reason=signature_mismatch");
}

#[tokio::test]
async fn events_filter_answers_200_and_forwards_only_the_listed_types() {
    let app = App::start().await;
    let proxy = single_route(
        &app,
        json!({"path": "/gh", "provider": "github", "events": ["push"], "secrets": [{"value": "events-secret"}]}),
    );
    let body = br#"{"ref":"main"}"#;
    let mut headers = sign("github", "events-secret", body, None);
    headers.push(("X-GitHub-Event".to_string(), "issues".to_string()));
    let ignored = send_raw(proxy.addr, &http1_request("POST", "/gh", &headers, body)).await;
    assert_eq!(ignored.status, 200);
    assert!(ignored.body_text().contains("ignored"));
    assert!(app.take().is_empty(), "an unlisted event is not forwarded");
    headers.pop();
    headers.push(("X-GitHub-Event".to_string(), "push".to_string()));
    let forwarded = send_raw(proxy.addr, &http1_request("POST", "/gh", &headers, body)).await;
    assert_eq!(forwarded.status, APP_STATUS);
    assert_eq!(app.take().len(), 1);
    // The filter runs after verification: a forged "push" is still a 401.
    headers[0].1 = format!("sha256={}", "0".repeat(64));
    let forged = send_raw(proxy.addr, &http1_request("POST", "/gh", &headers, body)).await;
    assert_eq!(forged.status, 401);
    proxy.wait_for_log("outcome=ignored_event");
}

#[tokio::test]
async fn a_secret_past_not_after_stops_matching() {
    let app = App::start().await;
    let proxy = single_route(
        &app,
        json!({"path": "/gh", "provider": "github", "secrets": [
            {"value": "retired-secret", "not_after": "2020-01-01T00:00:00Z"},
            {"value": "current-secret", "not_after": "2999-01-01T00:00:00Z"},
        ]}),
    );
    let body = br#"{"rotation":true}"#;
    let retired = send_raw(
        proxy.addr,
        &http1_request(
            "POST",
            "/gh",
            &sign("github", "retired-secret", body, None),
            body,
        ),
    )
    .await;
    assert_eq!(retired.status, 401);
    let current = send_raw(
        proxy.addr,
        &http1_request(
            "POST",
            "/gh",
            &sign("github", "current-secret", body, None),
            body,
        ),
    )
    .await;
    assert_eq!(current.status, APP_STATUS);
    assert_eq!(app.take().len(), 1);
}
