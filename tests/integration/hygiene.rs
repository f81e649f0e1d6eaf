//! What reaches the app and what comes back: header rules both ways, HTTP/2, and quiet logs.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;

use crate::support::demo::{config, signed, SECRET};
use crate::support::{
    hmac_sha256_hex, http1_request, send_h2, send_raw, App, Hookguard, APP_BODY, APP_STATUS,
};

#[tokio::test]
async fn request_headers_are_cleaned_and_spoofed_marks_removed() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, ""));
    let body = br#"{"event":"file.uploaded"}"#;
    let mut headers = signed(body);
    for (name, value) in [
        ("X-Hookguard-Route", "forged"),
        ("X_Hookguard_Route", "forged"),
        ("X-Hookguard-Shadow", "forged"),
        ("X-Forwarded-For", "203.0.113.9"),
        ("X_Forwarded_For", "203.0.113.9"),
        ("X-Forwarded-Host", "evil.example"),
        ("X-Forwarded-Proto", "https"),
        ("Forwarded", "for=203.0.113.9"),
        ("X-Real-IP", "203.0.113.9"),
        ("Keep-Alive", "timeout=5"),
        ("X-Hop", "1"),
        ("Connection", "X-Hop"),
        ("TE", "trailers"),
        ("Upgrade", "h2c"),
        ("Expect", "100-continue"),
        ("X-Custom", "kept"),
    ] {
        headers.push((name.to_string(), value.to_string()));
    }
    let response = send_raw(
        proxy.addr,
        &http1_request("POST", "/webhooks/drivewidget", &headers, body),
    )
    .await;
    assert_eq!(response.status, APP_STATUS);
    let received = app.take();
    let got = &received[0].headers;
    let values = |name: &str| {
        got.get_all(name)
            .iter()
            .map(|v| v.to_str().expect("ascii").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(values("x-hookguard-route"), vec!["drivewidget"]);
    for gone in [
        "x_hookguard_route",
        "x-hookguard-shadow",
        "x_forwarded_for",
        "keep-alive",
        "x-hop",
        "te",
        "upgrade",
        "expect",
    ] {
        assert!(!got.contains_key(gone), "{gone} reached the app");
    }
    assert_eq!(values("x-forwarded-for"), vec!["127.0.0.1"]);
    assert_eq!(values("x-real-ip"), vec!["127.0.0.1"]);
    assert_eq!(values("x-forwarded-proto"), vec!["http"]);
    assert_eq!(values("x-forwarded-host"), vec!["hooks.example.test"]);
    assert_eq!(
        values("forwarded"),
        vec!["for=127.0.0.1;proto=http;host=\"hooks.example.test\""]
    );
    assert_eq!(
        values("host"),
        vec!["hooks.example.test"],
        "Host is kept as sent"
    );
    assert_eq!(values("x-custom"), vec!["kept"]);
    assert_eq!(values("content-length"), vec![body.len().to_string()]);
    assert_eq!(
        values("x-drivewidget-signature").len(),
        1,
        "the signature itself is the app's to see"
    );
}

#[tokio::test]
async fn response_headers_are_relayed_without_hop_by_hop_ones() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, ""));
    let body = b"{}";
    let response = send_raw(
        proxy.addr,
        &http1_request("POST", "/webhooks/drivewidget", &signed(body), body),
    )
    .await;
    assert_eq!(response.status, APP_STATUS);
    assert_eq!(response.body_text(), APP_BODY);
    assert_eq!(response.header("x-app"), Some("yes"));
    assert_eq!(
        response.header("x-app-hop"),
        None,
        "named in the app's Connection header"
    );
    assert_eq!(response.header("keep-alive"), None);
}

#[tokio::test]
async fn http2_prior_knowledge_is_verified_and_forwarded_as_http1() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, ""));
    let body = Bytes::from_static(br#"{"event":"h2"}"#);
    let signature = format!("sha256={}", hmac_sha256_hex(SECRET.as_bytes(), &body));
    let request = Request::post(format!(
        "http://hooks.example.test:{}/webhooks/drivewidget",
        proxy.addr.port()
    ))
    .version(http::Version::HTTP_2)
    .header("x-drivewidget-signature", signature)
    .header("x-hookguard-route", "forged")
    .body(Full::new(body.clone()))
    .expect("request");
    let (status, headers, response_body) = send_h2(proxy.addr, request).await;
    assert_eq!(status.as_u16(), APP_STATUS);
    assert_eq!(response_body.as_ref(), APP_BODY.as_bytes());
    assert!(!headers.contains_key("x-app-hop"));
    let received = app.take();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, body);
    assert_eq!(
        received[0].headers["host"],
        format!("hooks.example.test:{}", proxy.addr.port())
    );
    assert_eq!(received[0].headers["x-hookguard-route"], "drivewidget");
    assert_eq!(
        received[0]
            .headers
            .get_all("x-hookguard-route")
            .iter()
            .count(),
        1
    );

    let forged = Request::post(format!(
        "http://hooks.example.test:{}/webhooks/drivewidget",
        proxy.addr.port()
    ))
    .version(http::Version::HTTP_2)
    .header(
        "x-drivewidget-signature",
        format!("sha256={}", "0".repeat(64)),
    )
    .body(Full::new(body))
    .expect("request");
    let (status, _, _) = send_h2(proxy.addr, forged).await;
    assert_eq!(status.as_u16(), 401);
    assert!(app.take().is_empty());
}

#[tokio::test]
async fn logs_name_outcomes_but_never_secrets_signatures_tokens_or_bodies() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, ""));
    let body = br#"{"marker":"body-must-not-be-logged"}"#;
    let good = signed(body);
    let signature_hex = good[0].1.trim_start_matches("sha256=").to_string();
    send_raw(
        proxy.addr,
        &http1_request("POST", "/webhooks/drivewidget", &good, body),
    )
    .await;
    send_raw(
        proxy.addr,
        &http1_request("POST", "/webhooks/drivewidget", &signed(b"x"), body),
    )
    .await;
    send_raw(
        proxy.addr,
        &http1_request("GET", &format!("/webhooks/files?token={SECRET}"), &[], b""),
    )
    .await;
    send_raw(
        proxy.addr,
        &http1_request("GET", "/webhooks/files?token=guessed-token", &[], b""),
    )
    .await;
    let request_lines = proxy.wait_for_logs(" request ", 4);
    let logs = proxy.logs().join("\n");
    for secret_thing in [
        SECRET,
        signature_hex.as_str(),
        "body-must-not-be-logged",
        "guessed-token",
    ] {
        assert!(
            !logs.contains(secret_thing),
            "{secret_thing:?} leaked into the logs:\n{logs}"
        );
    }
    assert_eq!(request_lines.len(), 4, "one line per request: {logs}");
    for line in request_lines {
        for field in ["route=", "outcome=", "status=", "latency_us="] {
            assert!(line.contains(field), "{field} missing from {line}");
        }
    }
}
