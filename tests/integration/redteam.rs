//! Regressions for what a red team broke (issue 12), each through the real binary: replays that
//! dodged dedup through the query, event filters read from unsigned headers, clients that left
//! without a trace, and HTTP/1.1 framing leftovers.

use crate::support::{hmac_sha256_hex, http1_request, send_raw, App, Hookguard, APP_STATUS};

const SECRET: &str = "red-team-secret";

fn drivewidget_headers(body: &[u8]) -> Vec<(String, String)> {
    vec![(
        "X-DriveWidget-Signature".to_string(),
        format!("sha256={}", hmac_sha256_hex(SECRET.as_bytes(), body)),
    )]
}

fn dedup_config(app: &App) -> String {
    format!(
        "listen: 127.0.0.1:0
upstream: {url}
routes:
  - path: /dw
    provider: drivewidget
    secrets: [{{value: {SECRET}}}]
    dedup: {{ttl: 1h}}
  - path: /files
    verify: {{query_token: {{param: token}}}}
    secrets: [{{value: {SECRET}}}]
    methods: [GET]
    dedup: {{ttl: 1h}}
",
        url = app.url()
    )
}

#[tokio::test]
async fn a_query_the_signature_does_not_cover_cannot_make_a_replay_new() {
    let app = App::start().await;
    let proxy = Hookguard::start(&dedup_config(&app));
    let body = br#"{"event":"file.created","id":"f1"}"#;
    let headers = drivewidget_headers(body);
    let first = send_raw(proxy.addr, &http1_request("POST", "/dw", &headers, body)).await;
    assert_eq!(first.status, APP_STATUS);
    for target in ["/dw", "/dw?r=1", "/dw?r=2&x=y", "/dw?"] {
        let again = send_raw(proxy.addr, &http1_request("POST", target, &headers, body)).await;
        assert_eq!(again.status, 200, "{target}");
        assert_eq!(again.body_text(), r#"{"duplicate":true}"#, "{target}");
    }
    assert_eq!(app.take().len(), 1, "the app saw the delivery once");
}

#[tokio::test]
async fn on_a_token_route_the_query_is_the_delivery() {
    let app = App::start().await;
    let proxy = Hookguard::start(&dedup_config(&app));
    let mut statuses = Vec::new();
    for file in ["a", "b", "a"] {
        let target = format!("/files?file={file}&token={SECRET}");
        let response = send_raw(proxy.addr, &http1_request("GET", &target, &[], b"")).await;
        statuses.push(response.status);
    }
    assert_eq!(statuses, [APP_STATUS, APP_STATUS, 200]);
    let seen: Vec<String> = app.take().into_iter().map(|r| r.target).collect();
    assert_eq!(seen, ["/files?file=a", "/files?file=b"]);
}
