//! The setup handshakes hookguard answers itself, through the running binary: each answered, each
//! refused when what vouches for it fails (a wrong verify token, a missing credential, a bad
//! signature), and none of them ever reaching the app; and HTTP basic auth, whose 401 says how to log
//! in and whose credential the app never sees.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::support::{hmac_sha256_hex, http1_request, send_raw, App, Hookguard, RawResponse};

const META_SECRET: &str = "meta-app-secret";
const VERIFY_TOKEN: &str = "meatyhamhock";
const TWITCH_SECRET: &str = "twitch-subscription-secret";
const POSTMARK_LOGIN: &str = "postmark:pa55 word";

/// One hookguard with a route per handshake, in front of `app`.
fn start(app: &App) -> Hookguard {
    let config = json!({
        "listen": "127.0.0.1:0",
        "upstream": app.url(),
        "routes": [
            {"path": "/meta", "provider": "meta", "secrets": [{"value": META_SECRET}],
             "verify_token": {"env": "META_VERIFY_TOKEN"}},
            {"path": "/okta", "provider": "okta", "secrets": [{"value": "okta-header-value"}]},
            {"path": "/linkedin", "provider": "linkedin", "secrets": [{"value": "li-client-secret"}]},
            {"path": "/twitch", "provider": "twitch", "secrets": [{"value": TWITCH_SECRET}]},
            {"path": "/nylas", "provider": "nylas", "secrets": [{"value": "nylas-secret"}]},
            {"path": "/worldline", "provider": "worldline", "secrets": [{"value": "wl-secret"}]},
            {"path": "/trello", "provider": "trello", "secrets": [{"value": "trello-secret"}],
             "public_url": "https://hooks.example.test/trello"},
            {"path": "/mailchimp", "provider": "mailchimp", "secrets": [{"value": "mc-secret"}]},
            {"path": "/postmark", "provider": "postmark", "secrets": [{"value": POSTMARK_LOGIN}]},
        ],
    });
    Hookguard::start_with_env(&config.to_string(), &[("META_VERIFY_TOKEN", VERIFY_TOKEN)])
}

async fn get(hookguard: &Hookguard, target: &str, headers: &[(&str, &str)]) -> RawResponse {
    request(hookguard, "GET", target, headers, b"").await
}

async fn request(
    hookguard: &Hookguard,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    send_raw(
        hookguard.addr,
        &http1_request(method, target, &headers, body),
    )
    .await
}

fn twitch_headers(kind: &str, body: &[u8], secret: &str) -> Vec<(&'static str, String)> {
    let id = "e76c6bd4-55c9-4987-8304-da1588d8988b".to_string();
    let timestamp = humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string();
    let mut signed = id.clone().into_bytes();
    signed.extend_from_slice(timestamp.as_bytes());
    signed.extend_from_slice(body);
    vec![
        ("Twitch-Eventsub-Message-Id", id),
        ("Twitch-Eventsub-Message-Timestamp", timestamp),
        (
            "Twitch-Eventsub-Message-Signature",
            format!("sha256={}", hmac_sha256_hex(secret.as_bytes(), &signed)),
        ),
        ("Twitch-Eventsub-Message-Type", kind.to_string()),
    ]
}

fn borrowed<'h>(headers: &'h [(&'static str, String)]) -> Vec<(&'static str, &'h str)> {
    headers.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

#[tokio::test]
async fn every_handshake_is_answered_and_its_forgeries_refused_without_the_app_seeing_one() {
    let app = App::start().await;
    let hookguard = start(&app);

    // Meta: the challenge only with the route's verify token; a wrong or missing one is 403.
    let hub = "/meta?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=";
    let answered = get(&hookguard, &format!("{hub}{VERIFY_TOKEN}"), &[]).await;
    assert_eq!(answered.status, 200);
    assert_eq!(answered.body_text(), "1158201444");
    assert_eq!(answered.header("content-type"), Some("text/plain"));
    for wrong in [
        format!("{hub}meatyhamhocks"),
        hub.to_string(),
        hub.replace("&hub.verify_token=", ""),
    ] {
        let refused = get(&hookguard, &wrong, &[]).await;
        assert_eq!(refused.status, 403, "{wrong}");
        assert!(!refused.body_text().contains("1158201444"), "{wrong}");
    }
    hookguard.wait_for_log("reason=verify_token_mismatch");

    // Okta: echoed as JSON once the Authorization header is the route's token.
    let okta_challenge = [("X-Okta-Verification-Challenge", "okta-challenge-42")];
    let unauthenticated = get(&hookguard, "/okta", &okta_challenge).await;
    assert_eq!(unauthenticated.status, 401);
    let wrong = [okta_challenge[0], ("Authorization", "not-the-value")];
    assert_eq!(get(&hookguard, "/okta", &wrong).await.status, 401);
    let right = [okta_challenge[0], ("Authorization", "okta-header-value")];
    let answered = get(&hookguard, "/okta", &right).await;
    assert_eq!(answered.status, 200);
    let json: Value = serde_json::from_slice(&answered.body).expect("json");
    assert_eq!(json, json!({"verification": "okta-challenge-42"}));

    // LinkedIn: the challenge code with its HMAC under the client secret.
    let code = "890e4665-4dfe-4ab1-b689-ed553bceeed0";
    let answered = get(&hookguard, &format!("/linkedin?challengeCode={code}"), &[]).await;
    assert_eq!(answered.status, 200);
    let json: Value = serde_json::from_slice(&answered.body).expect("json");
    assert_eq!(json["challengeCode"], code);
    let expected = hmac_sha256_hex(b"li-client-secret", code.as_bytes());
    assert_eq!(json["challengeResponse"], expected.as_str());

    // Twitch: the signed verification is answered with its challenge; a forged one is refused.
    let body = json!({"challenge": "pogchamp-kappa-360noscope-vohiyo", "subscription": {"type": "channel.follow"}})
        .to_string();
    let signed = twitch_headers(
        "webhook_callback_verification",
        body.as_bytes(),
        TWITCH_SECRET,
    );
    let answered = request(
        &hookguard,
        "POST",
        "/twitch",
        &borrowed(&signed),
        body.as_bytes(),
    )
    .await;
    assert_eq!(answered.status, 200);
    assert_eq!(answered.body_text(), "pogchamp-kappa-360noscope-vohiyo");
    assert_eq!(answered.header("content-type"), Some("text/plain"));
    let forged = twitch_headers(
        "webhook_callback_verification",
        body.as_bytes(),
        "not-the-secret",
    );
    let refused = request(
        &hookguard,
        "POST",
        "/twitch",
        &borrowed(&forged),
        body.as_bytes(),
    )
    .await;
    assert_eq!(refused.status, 401);
    assert!(!refused.body_text().contains("pogchamp"));
    let mut unsigned = borrowed(&signed);
    unsigned.retain(|(name, _)| *name != "Twitch-Eventsub-Message-Signature");
    let refused = request(&hookguard, "POST", "/twitch", &unsigned, body.as_bytes()).await;
    assert_eq!(refused.status, 401);

    // Nylas and Worldline: echoes; Trello's HEAD and Mailchimp's GET: an empty 200.
    let answered = get(&hookguard, "/nylas?challenge=nylas-c1", &[]).await;
    assert_eq!(
        (answered.status, answered.body_text()),
        (200, "nylas-c1".to_string())
    );
    let header = [("X-GCS-Webhooks-Endpoint-Verification", "wl-check-7")];
    let answered = get(&hookguard, "/worldline", &header).await;
    assert_eq!(
        (answered.status, answered.body_text()),
        (200, "wl-check-7".to_string())
    );
    let head = request(&hookguard, "HEAD", "/trello", &[], b"").await;
    assert_eq!(head.status, 200);
    let ping = get(&hookguard, "/mailchimp", &[]).await;
    assert_eq!((ping.status, ping.body_text()), (200, String::new()));

    hookguard.wait_for_logs("outcome=handshake", 8);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seen = app.take();
    assert!(
        seen.is_empty(),
        "the app saw a handshake: {:?}",
        seen.iter().map(|r| &r.target).collect::<Vec<_>>()
    );

    // Deliveries on the same routes still reach the app: the handshakes took nothing away.
    let event = br#"{"object":"page","entry":[]}"#;
    let signature = format!("sha256={}", hmac_sha256_hex(META_SECRET.as_bytes(), event));
    let delivered = request(
        &hookguard,
        "POST",
        "/meta",
        &[("X-Hub-Signature-256", &signature)],
        event,
    )
    .await;
    assert_eq!(delivered.status, 202);
    let notification = br#"{"subscription":{"type":"channel.follow"},"event":{}}"#;
    let signed = twitch_headers("notification", notification, TWITCH_SECRET);
    let delivered = request(
        &hookguard,
        "POST",
        "/twitch",
        &borrowed(&signed),
        notification,
    )
    .await;
    assert_eq!(delivered.status, 202);
    let mut seen = Vec::new();
    app.collect(&mut seen, 2, Duration::from_secs(5)).await;
    assert_eq!(seen[0].target, "/meta");
    assert_eq!(&seen[0].body[..], event);
    assert_eq!(seen[1].target, "/twitch");
}

#[tokio::test]
async fn basic_auth_is_checked_whole_and_its_credential_never_reaches_the_app() {
    let app = App::start().await;
    let hookguard = start(&app);
    let encode = |login: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(login)
        )
    };
    let body = br#"{"RecordType":"Delivery","MessageID":"m-1"}"#;
    for (authorization, why) in [
        (Some(encode("postmark:wrong")), "wrong password"),
        (Some(encode("other:pa55 word")), "wrong user"),
        (Some("Basic not*base64".to_string()), "garbled"),
        (
            Some(format!("Bearer {}", encode(POSTMARK_LOGIN))),
            "not basic",
        ),
        (None, "missing"),
    ] {
        let headers: Vec<(&str, &str)> = authorization
            .as_deref()
            .map(|value| ("Authorization", value))
            .into_iter()
            .collect();
        let refused = request(&hookguard, "POST", "/postmark", &headers, body).await;
        assert_eq!(refused.status, 401, "{why}");
        assert_eq!(
            refused.header("www-authenticate"),
            Some(r#"Basic realm="hookguard", charset="UTF-8""#),
            "{why}"
        );
        assert_eq!(
            refused.body_text(),
            r#"{"error":"invalid signature"}"#,
            "{why}"
        );
    }
    let right = encode(POSTMARK_LOGIN);
    let delivered = request(
        &hookguard,
        "POST",
        "/postmark",
        &[("Authorization", &right)],
        body,
    )
    .await;
    assert_eq!(delivered.status, 202);
    let mut seen = Vec::new();
    app.collect(&mut seen, 1, Duration::from_secs(5)).await;
    assert_eq!(
        seen.len(),
        1,
        "only the authenticated delivery reaches the app"
    );
    assert_eq!(&seen[0].body[..], body);
    assert!(
        !seen[0].headers.contains_key("authorization"),
        "the credential is hookguard's, not the app's"
    );
    let logs = hookguard.logs().join("\n");
    assert!(!logs.contains("pa55"), "the password is never logged");
    assert!(
        !logs.contains(&right[6..]),
        "the credential is never logged"
    );
}

#[tokio::test]
async fn a_meta_route_without_its_verify_token_does_not_start() {
    let dir = std::env::temp_dir().join(format!("hookguard-meta-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("meta.yaml");
    std::fs::write(
        &path,
        "upstream: http://127.0.0.1:9\nroutes:\n  - path: /meta\n    provider: meta\n    secrets: [{value: s}]\n",
    )
    .expect("write");
    let output = std::process::Command::new(crate::support::binary())
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("verify_token"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}
