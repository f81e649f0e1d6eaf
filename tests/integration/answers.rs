//! design.md's answer table, one status at a time, each checked for what reached the app.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::demo::{config, signed, SECRET};
use crate::support::{
    hmac_sha256_hex, http1_request, read_response, send_raw, App, Hookguard, APP_STATUS,
};

#[tokio::test]
async fn signed_delivery_is_forwarded_and_forgery_refused_with_a_generic_body() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, ""));
    let body = br#"{"event":"file.uploaded"}"#;
    let ok = send_raw(
        proxy.addr,
        &http1_request("POST", "/webhooks/drivewidget", &signed(body), body),
    )
    .await;
    assert_eq!(ok.status, APP_STATUS);
    assert_eq!(app.take().len(), 1);

    let forged = send_raw(
        proxy.addr,
        &http1_request("POST", "/webhooks/drivewidget", &signed(b"other"), body),
    )
    .await;
    assert_eq!(forged.status, 401);
    assert_eq!(forged.body_text(), r#"{"error":"invalid signature"}"#);
    assert_eq!(forged.header("content-type"), Some("application/json"));
    let missing = send_raw(
        proxy.addr,
        &http1_request("POST", "/webhooks/drivewidget", &[], body),
    )
    .await;
    assert_eq!(
        missing.body_text(),
        forged.body_text(),
        "one body for every signature failure"
    );
    assert!(app.take().is_empty());
    let line = proxy.wait_for_log("reason=signature_mismatch");
    assert!(
        line.contains("route=drivewidget") && line.contains("status=401"),
        "{line}"
    );
    proxy.wait_for_log("reason=missing_signature");
}

/// hyper hands over a body in the pieces it read. However a signed body is cut on the wire, by
/// length or by chunked framing, it must verify and reach the app whole, with its exact length.
#[tokio::test]
async fn a_body_sent_in_pieces_verifies_and_reaches_the_app_whole() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, ""));
    let body: Vec<u8> = (0..900u32).map(|i| b'a' + (i % 26) as u8).collect();
    let signature = &signed(&body)[0];
    let pieces = [&body[..1], &body[1..450], &body[450..]];
    for chunked in [false, true] {
        let framing = if chunked {
            "Transfer-Encoding: chunked".to_string()
        } else {
            format!("Content-Length: {}", body.len())
        };
        let head = format!(
            "POST /webhooks/drivewidget HTTP/1.1\r\nHost: hooks.example.test\r\n{}: {}\r\n{framing}\r\nConnection: close\r\n\r\n",
            signature.0, signature.1
        );
        let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
        stream.write_all(head.as_bytes()).await.expect("head");
        for piece in pieces {
            let mut wire = Vec::new();
            if chunked {
                wire.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            }
            wire.extend_from_slice(piece);
            if chunked {
                wire.extend_from_slice(b"\r\n");
            }
            stream.write_all(&wire).await.expect("piece");
            stream.flush().await.expect("flush");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if chunked {
            stream.write_all(b"0\r\n\r\n").await.expect("last chunk");
        }
        let response = read_response(&mut stream).await;
        assert_eq!(response.status, APP_STATUS, "chunked={chunked}");
        let recorded = app.take();
        assert_eq!(recorded.len(), 1);
        assert_eq!(&recorded[0].body[..], &body[..], "chunked={chunked}");
        assert_eq!(
            recorded[0]
                .headers
                .get("content-length")
                .map(|v| v.as_bytes()),
            Some(body.len().to_string().as_bytes()),
            "chunked={chunked}"
        );
        assert!(recorded[0].headers.get("transfer-encoding").is_none());
    }
}

#[tokio::test]
async fn no_route_is_404_and_unmatched_forward_passes_unverified() {
    let app = App::start().await;
    let rejecting = Hookguard::start(&config(&app, ""));
    let response = send_raw(rejecting.addr, &http1_request("POST", "/other", &[], b"x")).await;
    assert_eq!(response.status, 404);
    assert!(app.take().is_empty());

    let forwarding = Hookguard::start(&config(&app, "unmatched: forward"));
    let spoof = vec![("X-Hookguard-Route".to_string(), "drivewidget".to_string())];
    let response = send_raw(
        forwarding.addr,
        &http1_request("POST", "/other?a=1", &spoof, b"x"),
    )
    .await;
    assert_eq!(response.status, APP_STATUS);
    let received = app.take();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].target, "/other?a=1");
    assert!(
        !received[0].headers.contains_key("x-hookguard-route"),
        "unverified traffic is never marked"
    );
    forwarding.wait_for_log("outcome=forwarded_unverified");
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, ""));
    let response = send_raw(
        proxy.addr,
        &http1_request("GET", "/webhooks/drivewidget", &[], b""),
    )
    .await;
    assert_eq!(response.status, 405);
    assert_eq!(response.header("allow"), Some("POST"));
    let response = send_raw(
        proxy.addr,
        &http1_request("POST", "/webhooks/files?token=x", &[], b""),
    )
    .await;
    assert_eq!(response.status, 405);
    assert_eq!(response.header("allow"), Some("GET"));
    assert!(app.take().is_empty());
}

#[tokio::test]
async fn declared_oversize_body_is_413_before_the_body_is_sent() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, ""));
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    // Only the head: the body never comes, so an answer proves nothing waited for it.
    let head = "POST /webhooks/drivewidget HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\
                X-DriveWidget-Signature: sha256=00\r\n\r\n";
    let started = Instant::now();
    stream.write_all(head.as_bytes()).await.expect("write head");
    let response = read_response(&mut stream).await;
    assert_eq!(response.status, 413);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(app.take().is_empty());
    proxy.wait_for_log("reason=body_too_large");
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_413_while_streaming() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, ""));
    let body = vec![b'a'; 2048];
    let signature = format!("sha256={}", hmac_sha256_hex(SECRET.as_bytes(), &body));
    let mut request = format!(
        "POST /webhooks/drivewidget HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
         X-DriveWidget-Signature: {signature}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.chunks(512) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let response = send_raw(proxy.addr, &request).await;
    assert_eq!(response.status, 413);
    assert!(app.take().is_empty());

    // The same chunked framing under the limit is verified and forwarded with a Content-Length.
    let small = b"small body";
    let signature = format!("sha256={}", hmac_sha256_hex(SECRET.as_bytes(), small));
    let request = format!(
        "POST /webhooks/drivewidget HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
         X-DriveWidget-Signature: {signature}\r\nConnection: close\r\n\r\n5\r\nsmall\r\n5\r\n body\r\n0\r\n\r\n"
    );
    let response = send_raw(proxy.addr, request.as_bytes()).await;
    assert_eq!(response.status, APP_STATUS);
    let received = app.take();
    assert_eq!(received[0].body.as_ref(), small);
    assert_eq!(received[0].headers["content-length"], "10");
    assert!(!received[0].headers.contains_key("transfer-encoding"));
}

#[tokio::test]
async fn content_length_with_transfer_encoding_is_400_in_either_order() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, "unmatched: forward"));
    let body = b"0\r\n\r\n";
    let signature = format!("sha256={}", hmac_sha256_hex(SECRET.as_bytes(), b""));
    for (first, second) in [
        ("Content-Length: 5", "Transfer-Encoding: chunked"),
        ("Transfer-Encoding: chunked", "Content-Length: 5"),
    ] {
        for path in ["/webhooks/drivewidget", "/unrouted"] {
            let request = format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\n{first}\r\n{second}\r\n\
                 X-DriveWidget-Signature: {signature}\r\n\r\n"
            );
            let mut bytes = request.into_bytes();
            bytes.extend_from_slice(body);
            let response = send_raw(proxy.addr, &bytes).await;
            assert_eq!(response.status, 400, "{first} / {second} on {path}");
        }
    }
    assert!(app.take().is_empty());
    proxy.wait_for_log("reason=content_length_with_transfer_encoding");

    // A clean request before a smuggling one on the same connection keeps its own verdict.
    let clean = b"POST /unrouted HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok";
    let smuggle = b"POST /unrouted HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream.write_all(clean).await.expect("write");
    let first = read_response(&mut stream).await;
    assert_eq!(first.status, APP_STATUS);
    stream.write_all(smuggle).await.expect("write");
    let second = read_response(&mut stream).await;
    assert_eq!(second.status, 400);
    let received = app.take();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body.as_ref(), b"ok");
}

#[tokio::test]
async fn non_canonical_paths_are_400_even_when_unmatched_forwards() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, "unmatched: forward"));
    let paths = [
        "/webhooks/./drivewidget",
        "/a/../webhooks/drivewidget",
        "/webhooks//drivewidget",
        "//webhooks/drivewidget",
        "/webhooks%2Fdrivewidget",
        "/webhooks%2fdrivewidget",
        "/webhooks/%2e%2e/x",
        "/webhooks%5Cdrivewidget",
        "/webhooks/drivewidget%25",
        "/webhooks/drivewidget;jsessionid=1",
        "/WEBHOOKS/drivewidget",
        "/webhooks/DriveWidget",
        "/webhooks/%64rivewidget",
        "/webhooks/x%zz",
    ];
    for path in paths {
        let response = send_raw(proxy.addr, &http1_request("POST", path, &[], b"{}")).await;
        assert_eq!(response.status, 400, "{path}");
    }
    let backslash = send_raw(
        proxy.addr,
        b"POST /webhooks\\drivewidget HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert_eq!(
        backslash.status, 400,
        "a literal backslash is refused (by hyper or by us)"
    );
    assert!(app.take().is_empty(), "none of them reached the app");
    // A trailing slash is the same route, not a different path.
    let body = b"{}";
    let response = send_raw(
        proxy.addr,
        &http1_request("POST", "/webhooks/drivewidget/", &signed(body), body),
    )
    .await;
    assert_eq!(response.status, APP_STATUS);
    assert_eq!(app.take().len(), 1);
}

#[tokio::test]
async fn upstream_down_is_502_so_the_sender_retries() {
    let app = App::start().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let yaml = config(&app, "").replace(&app.url(), &format!("http://{closed}"));
    let proxy = Hookguard::start(&yaml);
    let body = b"{}";
    let started = Instant::now();
    let response = send_raw(
        proxy.addr,
        &http1_request("POST", "/webhooks/drivewidget", &signed(body), body),
    )
    .await;
    assert_eq!(response.status, 502);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused connections fail fast: {:?}",
        started.elapsed()
    );
    assert!(app.take().is_empty());
    assert_eq!(response.body_text(), r#"{"error":"bad gateway"}"#);
    proxy.wait_for_log("reason=upstream_unreachable");
}

#[tokio::test]
async fn query_token_is_checked_and_never_forwarded() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, ""));
    let target = format!("/webhooks/files?action=create&token={SECRET}&path=%2Fa+b");
    let response = send_raw(proxy.addr, &http1_request("GET", &target, &[], b"")).await;
    assert_eq!(response.status, APP_STATUS);
    let received = app.take();
    assert_eq!(
        received[0].target,
        "/webhooks/files?action=create&path=%2Fa+b"
    );
    let line = proxy.wait_for_log("route=files");
    assert!(!line.contains(SECRET), "the token is not logged: {line}");
    let response = send_raw(
        proxy.addr,
        &http1_request("GET", "/webhooks/files?token=nope", &[], b""),
    )
    .await;
    assert_eq!(response.status, 401);
    assert!(app.take().is_empty());
}
