//! The second half of the HMAC presets through the running binary, where they differ from the common
//! shape: Orb's zone-less ISO 8601 timestamp and space-separated version list, Front's millisecond
//! `{ts}:{body}` and Go1's 60-second window, each signed here as the provider documents it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::support::{http1_request, send_raw, App, Hookguard, APP_STATUS};

const BODY: &str = r#"{"id":"evt_1","type":"ping"}"#;

fn hmac_sha256(secret: &str, message: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn proxy_for(app: &App, preset: &str, secret: &str) -> Hookguard {
    let route = json!({"path": "/hook", "provider": preset, "secrets": [{"value": secret}]});
    Hookguard::start(
        &json!({ "listen": "127.0.0.1:0", "upstream": app.url(), "routes": [route] }).to_string(),
    )
}

async fn status(proxy: &Hookguard, headers: &[(&str, String)], body: &str) -> u16 {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.clone()))
        .collect();
    send_raw(
        proxy.addr,
        &http1_request("POST", "/hook", &headers, body.as_bytes()),
    )
    .await
    .status
}

/// Orb's timestamp as it sends it: ISO 8601 with milliseconds and no zone, meaning UTC.
fn orb_stamp(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at)
        .to_string()
        .trim_end_matches('Z')
        .to_string()
}

#[tokio::test]
async fn orb_reads_a_zone_less_iso_timestamp_as_utc_and_skips_other_versions() {
    let app = App::start().await;
    let proxy = proxy_for(&app, "orb", "orb-secret");
    let signed = |at: SystemTime| {
        let stamp = orb_stamp(at);
        let sig = hex::encode(hmac_sha256("orb-secret", &format!("v1:{stamp}:{BODY}")));
        vec![
            ("X-Orb-Timestamp", stamp),
            (
                "X-Orb-Signature",
                format!("v2=unknown v1={} v1={sig}", "ab".repeat(32)),
            ),
        ]
    };
    let now = SystemTime::now();
    assert_eq!(status(&proxy, &signed(now), BODY).await, APP_STATUS);
    assert_eq!(app.take().len(), 1);
    let stale = status(&proxy, &signed(now - Duration::from_secs(600)), BODY).await;
    assert_eq!(stale, 401, "ten minutes old is past Orb's five");
    let early = status(&proxy, &signed(now + Duration::from_secs(600)), BODY).await;
    assert_eq!(early, 401, "Orb refuses the future too");
    assert!(app.take().is_empty());
}

#[tokio::test]
async fn front_signs_the_millisecond_timestamp_with_the_body() {
    let app = App::start().await;
    let proxy = proxy_for(&app, "frontapp", "front-signing-key");
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis()
        .to_string();
    let sig = base64::engine::general_purpose::STANDARD
        .encode(hmac_sha256("front-signing-key", &format!("{ms}:{BODY}")));
    let headers = vec![
        ("x-front-signature", sig.clone()),
        ("x-front-request-timestamp", ms.clone()),
    ];
    assert_eq!(status(&proxy, &headers, BODY).await, APP_STATUS);
    assert_eq!(app.take().len(), 1);
    let moved = vec![
        ("x-front-signature", sig),
        (
            "x-front-request-timestamp",
            format!("{}", ms.parse::<u128>().expect("ms") + 1),
        ),
    ];
    assert_eq!(
        status(&proxy, &moved, BODY).await,
        401,
        "the timestamp is signed"
    );
    assert!(app.take().is_empty());
}

#[tokio::test]
async fn go1_refuses_a_signature_older_than_a_minute() {
    let app = App::start().await;
    let proxy = proxy_for(&app, "go1", "go1-secret");
    let signed = |age: u64| {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            - age;
        let sig = hex::encode(hmac_sha256("go1-secret", &format!("{t}.{BODY}")));
        vec![("Go1-Signature", format!("t={t},v1={sig}"))]
    };
    assert_eq!(status(&proxy, &signed(0), BODY).await, APP_STATUS);
    assert_eq!(app.take().len(), 1);
    assert_eq!(status(&proxy, &signed(120), BODY).await, 401);
    assert!(app.take().is_empty());
}
