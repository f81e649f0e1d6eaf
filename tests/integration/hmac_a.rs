//! The first half of the HMAC family through the real binary where the all-presets sweep cannot
//! reach: Telnyx's Ed25519 signature signed fresh here, and the windows Telnyx and Pusher enforce.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::json;

use crate::support::{hmac_sha256_hex, http1_request, send_raw, App, Hookguard, APP_STATUS};

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn config(app: &App, routes: serde_json::Value) -> String {
    json!({ "listen": "127.0.0.1:0", "upstream": app.url(), "routes": routes }).to_string()
}

/// What Telnyx sends: base64 Ed25519 over `{timestamp}|{body}`.
fn telnyx_headers(key: &SigningKey, timestamp: u64, body: &str) -> Vec<(String, String)> {
    let signature = key.sign(format!("{timestamp}|{body}").as_bytes());
    vec![
        (
            "telnyx-signature-ed25519".to_string(),
            b64(&signature.to_bytes()),
        ),
        ("telnyx-timestamp".to_string(), timestamp.to_string()),
    ]
}

#[tokio::test]
async fn telnyx_accepts_its_key_and_refuses_tampering_another_key_and_stale_deliveries() {
    let app = App::start().await;
    let telnyx = SigningKey::from_bytes(&[7; 32]);
    let stranger = SigningKey::from_bytes(&[9; 32]);
    let public_key = b64(telnyx.verifying_key().as_bytes());
    let proxy = Hookguard::start(&config(
        &app,
        json!([{ "path": "/telnyx", "provider": "telnyx", "secrets": [{ "value": public_key }] }]),
    ));
    let body = json!({"data": {"event_type": "call.initiated", "id": "ev-1"}}).to_string();
    let addr = proxy.addr;
    let send = |headers: Vec<(String, String)>, body: String| {
        let request = http1_request("POST", "/telnyx", &headers, body.as_bytes());
        async move { send_raw(addr, &request).await }
    };

    let good = send(telnyx_headers(&telnyx, now_secs(), &body), body.clone()).await;
    assert_eq!(good.status, APP_STATUS, "{}", good.body_text());
    assert_eq!(app.take()[0].body.as_ref(), body.as_bytes());

    let tampered = body.replace("ev-1", "ev-2");
    let cases = [
        (telnyx_headers(&telnyx, now_secs(), &body), tampered),
        (telnyx_headers(&stranger, now_secs(), &body), body.clone()),
        (
            telnyx_headers(&telnyx, now_secs() - 400, &body),
            body.clone(),
        ),
        (
            telnyx_headers(&telnyx, now_secs() + 400, &body),
            body.clone(),
        ),
    ];
    for (headers, body) in cases {
        let refused = send(headers, body).await;
        assert_eq!(refused.status, 401, "{}", refused.body_text());
    }
    assert!(app.take().is_empty());
}

#[tokio::test]
async fn pusher_refuses_a_genuine_signature_over_a_stale_time_ms() {
    let app = App::start().await;
    let secret = "pusher-app-secret";
    let proxy = Hookguard::start(&config(
        &app,
        json!([{ "path": "/pusher", "provider": "pusher", "secrets": [{ "value": secret }] }]),
    ));
    for (age_ms, expected) in [(0, APP_STATUS), (400_000, 401)] {
        let time_ms = u128::from(now_secs()) * 1000 - age_ms;
        let body =
            json!({"time_ms": time_ms, "events": [{"name": "channel_occupied"}]}).to_string();
        let headers = vec![
            ("X-Pusher-Key".to_string(), "app-key".to_string()),
            (
                "X-Pusher-Signature".to_string(),
                hmac_sha256_hex(secret.as_bytes(), body.as_bytes()),
            ),
        ];
        let response = send_raw(
            proxy.addr,
            &http1_request("POST", "/pusher", &headers, body.as_bytes()),
        )
        .await;
        assert_eq!(
            response.status,
            expected,
            "age {age_ms} ms: {}",
            response.body_text()
        );
    }
    assert_eq!(app.take().len(), 1);
}
