//! Regressions for what a red team broke (issue 12), each through the real binary: replays that
//! dodged dedup through the query, event filters read from unsigned headers, clients that left
//! without a trace, and HTTP/1.1 framing leftovers.

use crate::support::{
    github_config, github_headers, hmac_sha256_hex, http1_request, send_raw, App, Hookguard,
    APP_STATUS,
};

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

fn filter_config(app: &App) -> String {
    format!(
        "listen: 127.0.0.1:0
upstream: {url}
routes:
  - path: /filedgr
    provider: filedgr
    secrets: [{{value: {SECRET}}}]
    events: [vault.created]
  - path: /gh
    provider: github
    secrets: [{{value: {SECRET}}}]
    events: [push]
",
        url = app.url()
    )
}

fn filedgr_request(body: &[u8], event_header: Option<&str>) -> Vec<u8> {
    let mut headers = vec![(
        "X-Filedgr-Signature".to_string(),
        hmac_sha256_hex(SECRET.as_bytes(), body),
    )];
    if let Some(event) = event_header {
        headers.push(("X-Filedgr-Event-Type".to_string(), event.to_string()));
    }
    http1_request("POST", "/filedgr", &headers, body)
}

#[tokio::test]
async fn the_filedgr_filter_reads_the_signed_body_not_the_header() {
    let app = App::start().await;
    let proxy = Hookguard::start(&filter_config(&app));
    let filtered = br#"{"eventType":"vault.accessed","eventId":"evt_1"}"#;
    let spoofed = send_raw(
        proxy.addr,
        &filedgr_request(filtered, Some("vault.created")),
    )
    .await;
    assert_eq!(spoofed.status, 200);
    assert_eq!(
        spoofed.body_text(),
        r#"{"ignored":"event type not forwarded"}"#
    );
    assert!(
        app.take().is_empty(),
        "an allowed header does not pass a filtered body"
    );

    let allowed = br#"{"eventType":"vault.created","eventId":"evt_2"}"#;
    let bare = send_raw(proxy.addr, &filedgr_request(allowed, None)).await;
    assert_eq!(bare.status, APP_STATUS, "the header is not needed");
    assert_eq!(app.take().len(), 1);
}

#[tokio::test]
async fn a_delivery_whose_event_type_cannot_be_read_is_not_answered_2xx() {
    let app = App::start().await;
    let proxy = Hookguard::start(&filter_config(&app));
    let untyped = br#"{"eventId":"evt_3"}"#;
    let response = send_raw(proxy.addr, &filedgr_request(untyped, Some("vault.created"))).await;
    assert_eq!(
        response.status, 422,
        "the sender records a failure, not a success"
    );
    assert_eq!(response.body_text(), r#"{"error":"event type missing"}"#);
    let line = proxy.wait_for_log("reason=event_type_missing");
    assert!(line.contains("route=/filedgr"), "{line}");

    // GitHub puts the type only in an unsigned header; without it, the same answer.
    let body = br#"{"ref":"refs/heads/main"}"#;
    let headers = vec![(
        "X-Hub-Signature-256".to_string(),
        format!("sha256={}", hmac_sha256_hex(SECRET.as_bytes(), body)),
    )];
    let response = send_raw(proxy.addr, &http1_request("POST", "/gh", &headers, body)).await;
    assert_eq!(response.status, 422);
    assert!(app.take().is_empty());
}

#[tokio::test]
async fn a_client_that_leaves_before_the_answer_is_logged_and_counted_as_499() {
    use tokio::io::AsyncWriteExt as _;
    let app = App::start().await;
    let admin = "admin: 127.0.0.1:0";
    let proxy = Hookguard::start(&github_config(&app, SECRET, admin, ""));
    let body = br#"{"slow":true}"#;
    let headers = github_headers(SECRET, body, &[("X-Test-Delay-Ms", "1500")]);
    let mut stream = tokio::net::TcpStream::connect(proxy.addr)
        .await
        .expect("connect");
    stream
        .write_all(&http1_request("POST", "/gh", &headers, body))
        .await
        .expect("write");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    drop(stream);

    let line = proxy.wait_for_log("status=499");
    for field in [
        "route=/gh",
        "outcome=client_closed",
        "reason=client_closed_request",
    ] {
        assert!(line.contains(field), "{field} in {line}");
    }
    assert_eq!(
        proxy
            .metric(r#"hookguard_requests_total{route="/gh",outcome="client_closed",status="499"}"#)
            .await,
        Some(1.0)
    );
    assert_eq!(
        proxy.metric("hookguard_requests_in_flight").await,
        Some(0.0)
    );
}

fn raw_head(request_line: &str, fields: &[String], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{request_line}\r\n");
    for field in fields {
        out.push_str(field);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn signed_fields(body: &[u8]) -> Vec<String> {
    vec![
        format!(
            "X-Hub-Signature-256: sha256={}",
            hmac_sha256_hex(SECRET.as_bytes(), body)
        ),
        format!("Content-Length: {}", body.len()),
        "Connection: close".to_string(),
    ]
}

#[tokio::test]
async fn framing_leftovers_are_refused_or_dropped_consistently() {
    let app = App::start().await;
    let proxy = Hookguard::start(&github_config(&app, SECRET, "", "    name: gh"));
    let body = br#"{"framing":1}"#;
    let host = "Host: hooks.example.test".to_string();

    // An underscore Content_Length goes the way Transfer_Encoding always went.
    let mut fields = signed_fields(body);
    fields.extend([
        host.clone(),
        "Content_Length: 999".to_string(),
        "Transfer_Encoding: chunked".to_string(),
        "Expect_: x".to_string(),
    ]);
    let response = send_raw(proxy.addr, &raw_head("POST /gh HTTP/1.1", &fields, body)).await;
    assert_eq!(response.status, APP_STATUS);
    let received = app.take();
    let headers = &received[0].headers;
    assert!(!headers.contains_key("content_length"), "{headers:?}");
    assert!(!headers.contains_key("transfer_encoding"), "{headers:?}");
    assert_eq!(headers["content-length"], body.len().to_string().as_str());

    // HTTP/1.1 needs exactly one Host; HTTP/1.0 may have none.
    let cases: [(&str, Vec<String>, u16, &str); 3] = [
        ("POST /gh HTTP/1.1", vec![], 400, "missing_host"),
        (
            "POST /gh HTTP/1.1",
            vec![host.clone(), host.clone()],
            400,
            "repeated_host",
        ),
        ("POST /gh HTTP/1.0", vec![], APP_STATUS, "forwarded"),
    ];
    for (line, hosts, status, reason) in cases {
        let mut fields = signed_fields(body);
        fields.extend(hosts);
        let response = send_raw(proxy.addr, &raw_head(line, &fields, body)).await;
        assert_eq!(response.status, status, "{line} {reason}");
        proxy.wait_for_log(reason);
    }
    assert_eq!(
        app.take().len(),
        1,
        "only the HTTP/1.0 request reached the app"
    );
}

#[tokio::test]
async fn a_request_gets_431_unless_the_app_can_take_it_with_our_fields() {
    let app = App::start().await;
    let proxy = Hookguard::start(&github_config(&app, SECRET, "", "    name: gh"));
    let body = br#"{"fields":92}"#;
    let with_fields = |total: usize| {
        let mut fields = signed_fields(body);
        fields.push("Host: hooks.example.test".to_string());
        let filler = total - fields.len();
        fields.extend((0..filler).map(|i| format!("X-Filler-{i}: {i}")));
        raw_head("POST /gh HTTP/1.1", &fields, body)
    };
    let most = send_raw(proxy.addr, &with_fields(92)).await;
    assert_eq!(most.status, APP_STATUS, "92 fields plus ours reach the app");
    let received = app.take();
    assert!(
        received[0].headers.len() <= 100,
        "{}",
        received[0].headers.len()
    );
    let over = send_raw(proxy.addr, &with_fields(93)).await;
    assert_eq!(over.status, 431);
    assert_eq!(over.body_text(), r#"{"error":"too many header fields"}"#);
    assert!(app.take().is_empty());
}

#[tokio::test]
async fn a_timestamp_cut_inside_a_character_is_refused_without_a_panic() {
    let app = App::start().await;
    // An RFC 3339 timestamp read from the body: its text is whatever UTF-8 the client sent.
    let config = format!(
        "listen: 127.0.0.1:0\nupstream: {}\nroutes:\n  - path: /ts\n    verify: {{scheme: {{algorithm: hmac-sha256, encoding: hex, key_format: raw, header_sets: [{{signatures: [X-Sig]}}], template: '{{body}}', timestamp: {{source: /ts, unit: rfc3339, tolerance: 300}}}}}}\n    secrets: [{{value: {SECRET}}}]\n",
        app.url()
    );
    let proxy = Hookguard::start(&config);
    let body = "{\"ts\":\"\u{e9}12345\"}".as_bytes();
    let headers = vec![(
        "X-Sig".to_string(),
        hmac_sha256_hex(SECRET.as_bytes(), body),
    )];
    let response = send_raw(proxy.addr, &http1_request("POST", "/ts", &headers, body)).await;
    assert_eq!(response.status, 401, "refused, not a dropped connection");
    assert!(
        proxy.logs().iter().all(|l| !l.contains("panicked")),
        "{:?}",
        proxy.logs()
    );
    assert!(app.take().is_empty());
}

#[tokio::test]
async fn shadow_mode_counts_a_verification_failure_under_its_own_reason_when_the_app_fails_too() {
    // A port nothing listens on: the app is down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let down = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let config = format!(
        "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nupstream: {down}\nroutes:\n  - path: /gh\n    name: gh\n    provider: github\n    enforce: false\n    secrets: [{{value: {SECRET}}}]\n"
    );
    let proxy = Hookguard::start(&config);
    let body = br#"{"shadow":1}"#;
    let forged = vec![("X-Hub-Signature-256".to_string(), "sha256=00".to_string())];
    let response = send_raw(proxy.addr, &http1_request("POST", "/gh", &forged, body)).await;
    assert_eq!(response.status, 502);
    proxy.wait_for_log("route=gh");
    let failures = |reason: &str| {
        format!(r#"hookguard_verification_failures_total{{route="gh",reason="{reason}"}}"#)
    };
    assert_eq!(
        proxy.metric(&failures("malformed_signature")).await,
        Some(1.0)
    );
    assert_eq!(proxy.metric(&failures("upstream_unreachable")).await, None);
}
