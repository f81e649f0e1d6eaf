//! Slow and hostile clients: silent connections and dribbled heads are closed within
//! header_timeout, idle keep-alive lives until idle_timeout, hundreds of dribblers do not delay a
//! genuine delivery, and garbage neither crashes hookguard nor grows its memory.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{
    github_config, hmac_sha256_hex, http1_request, read_response, send_raw, App, Hookguard,
    APP_STATUS,
};

const SECRET: &str = "slow-test-secret";

fn config(app: &App, limits: &str) -> String {
    github_config(app, SECRET, &format!("limits: {{{limits}}}"), "")
}

fn genuine() -> Vec<u8> {
    let body = br#"{"genuine":true}"#;
    let signature = format!("sha256={}", hmac_sha256_hex(SECRET.as_bytes(), body));
    http1_request(
        "POST",
        "/gh",
        &[("X-Hub-Signature-256".to_string(), signature)],
        body,
    )
}

/// How long until the server closes `stream` (reads until end of stream), up to `limit`.
async fn closed_after(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut scratch = [0u8; 1024];
    loop {
        match tokio::time::timeout(
            limit.saturating_sub(started.elapsed()),
            stream.read(&mut scratch),
        )
        .await
        {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn a_silent_connection_and_a_dribbled_head_are_closed_within_header_timeout() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, "header_timeout: 1s, idle_timeout: 10s"));
    let mut silent = TcpStream::connect(proxy.addr).await.expect("connect");
    let closed = closed_after(&mut silent, Duration::from_secs(4))
        .await
        .expect("closed");
    assert!(
        closed >= Duration::from_millis(900) && closed < Duration::from_secs(3),
        "{closed:?}"
    );

    // Bytes keep coming, one every 150 ms, but the head never ends: the head's own clock stops it.
    let mut dribbler = TcpStream::connect(proxy.addr).await.expect("connect");
    let started = Instant::now();
    let head =
        b"POST /gh HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for byte in head {
        if dribbler.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
        if started.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    let closed = started.elapsed();
    let rest = closed_after(&mut dribbler, Duration::from_secs(1)).await;
    assert!(rest.is_some(), "the dribbler was cut off");
    assert!(
        closed < Duration::from_secs(4),
        "closed after {closed:?}, though bytes kept arriving"
    );
    assert!(app.take().is_empty());
}

#[tokio::test]
async fn idle_keep_alive_lasts_until_idle_timeout_not_header_timeout() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, "header_timeout: 1s, idle_timeout: 3s"));
    let body = br#"{"keep":"alive"}"#;
    let signature = format!("sha256={}", hmac_sha256_hex(SECRET.as_bytes(), body));
    let request = |body: &[u8]| {
        let mut out = format!(
            "POST /gh HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: {}\r\nContent-Length: {}\r\n\r\n",
            signature,
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    };
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream.write_all(&request(body)).await.expect("first");
    assert_eq!(read_response(&mut stream).await.status, APP_STATUS);
    tokio::time::sleep(Duration::from_millis(1800)).await;
    stream
        .write_all(&request(body))
        .await
        .expect("second, after more than header_timeout idle");
    assert_eq!(read_response(&mut stream).await.status, APP_STATUS);
    let closed = closed_after(&mut stream, Duration::from_secs(6))
        .await
        .expect("closed when idle");
    assert!(
        closed >= Duration::from_millis(2500) && closed < Duration::from_secs(5),
        "{closed:?}"
    );
}

#[tokio::test]
async fn three_hundred_dribbling_connections_do_not_delay_a_genuine_delivery() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, "header_timeout: 10s"));
    let mut dribblers = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
        stream
            .write_all(b"POST /gh HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("partial head");
        dribblers.push(stream);
    }
    let started = Instant::now();
    let response = send_raw(proxy.addr, &genuine()).await;
    let took = started.elapsed();
    assert_eq!(response.status, APP_STATUS);
    assert!(
        took < Duration::from_secs(1),
        "the genuine delivery took {took:?}"
    );
    assert_eq!(app.take().len(), 1);
    drop(dribblers);
}

#[tokio::test]
async fn garbage_requests_neither_crash_nor_grow_memory() {
    let app = App::start().await;
    let mut proxy = Hookguard::start(&config(&app, "header_timeout: 2s"));
    // Warm up, so the baseline includes the runtime's steady allocations.
    for _ in 0..50 {
        send_raw(proxy.addr, &genuine()).await;
    }
    let baseline = proxy.rss_kib();
    let garbage: Vec<Vec<u8>> = vec![
        b"\x00\x01\x02\x03\xff\xfe\r\n\r\n".to_vec(),
        b"GET / HTTP/9.9\r\n\r\n".to_vec(),
        b"POST /gh HTTP/1.1\r\nContent-Length: -5\r\n\r\n".to_vec(),
        b"POST /gh HTTP/1.1\r\nContent-Length: 10\r\nContent-Length: 11\r\n\r\n".to_vec(),
        b"POST /gh HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
        b"POST /gh HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".to_vec(),
        [b"GET /".as_slice(), &[b'a'; 70_000], b" HTTP/1.1\r\n\r\n"].concat(),
        (0..150)
            .flat_map(|i| format!("X-H{i}: v\r\n").into_bytes())
            .collect::<Vec<u8>>(),
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00garbage".to_vec(),
        b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
    ];
    for round in 0..150 {
        for (i, bytes) in garbage.iter().enumerate() {
            let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
            let _ = stream.write_all(bytes).await;
            let _ = stream.shutdown().await;
            let mut sink = Vec::new();
            let read =
                tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut sink)).await;
            assert!(
                read.is_ok(),
                "garbage {i} in round {round} left the connection hanging"
            );
            if let Some(line) = sink.split(|b| *b == b'\n').next() {
                let status = String::from_utf8_lossy(line);
                assert!(!status.contains(" 2"), "garbage {i} got a 2xx: {status}");
            }
        }
    }
    assert!(
        proxy.alive(),
        "1,500 garbage requests did not crash hookguard"
    );
    assert_eq!(send_raw(proxy.addr, &genuine()).await.status, APP_STATUS);
    let after = proxy.rss_kib();
    assert!(
        after < baseline + 8 * 1024,
        "RSS grew from {baseline} KiB to {after} KiB"
    );
    assert_eq!(app.take().len(), 51, "no garbage reached the app");
}
