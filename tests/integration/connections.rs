//! Clients that hold connections without using them: idle HTTP/2 connections are closed at
//! idle_timeout (header_timeout before a first request), a client that stops reading a large
//! answer is cut off after send_timeout over HTTP/1.1 and HTTP/2 and the app's connection is freed,
//! and a genuine delivery is served meanwhile.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{
    github_headers, http1_request, read_response, send_raw, App, Hookguard, APP_STATUS,
};

const SECRET: &str = "connections-test-secret";
/// Larger than every kernel buffer between the app and a client that reads nothing.
const BIG: usize = 32 * 1024 * 1024;
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
const EMPTY_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];

fn config(app_url: &str, limits: &str) -> String {
    format!(
        "listen: 127.0.0.1:0\nupstream: {app_url}\nlimits: {{{limits}}}\nroutes:\n  - path: /gh\n    provider: github\n    secrets: [{{value: {SECRET}}}]\n"
    )
}

fn genuine(extra: &[(&str, &str)]) -> Vec<u8> {
    let body = br#"{"genuine":true}"#;
    http1_request("POST", "/gh", &github_headers(SECRET, body, extra), body)
}

/// A genuine delivery over a fresh connection: its status and how long it took.
async fn deliver(addr: std::net::SocketAddr) -> (u16, Duration) {
    let started = Instant::now();
    let response = tokio::time::timeout(Duration::from_secs(8), send_raw(addr, &genuine(&[])))
        .await
        .expect("a genuine delivery is served, not locked out");
    (response.status, started.elapsed())
}

/// Reads until the server closes the connection; how long that took, or `None` past `limit`.
/// Also returns every byte read.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> (Option<Duration>, Vec<u8>) {
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut scratch = [0u8; 16 * 1024];
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut scratch)).await {
            Err(_) => return (None, seen),
            Ok(Ok(0)) | Ok(Err(_)) => return (Some(started.elapsed()), seen),
            Ok(Ok(n)) => seen.extend_from_slice(&scratch[..n]),
        }
    }
}

/// Whether an HTTP/2 byte stream from the server holds a GOAWAY frame (type 7).
fn has_goaway(mut frames: &[u8]) -> bool {
    while frames.len() >= 9 {
        let length = u32::from_be_bytes([0, frames[0], frames[1], frames[2]]) as usize;
        if frames[3] == 7 {
            return true;
        }
        frames = frames.get(9 + length..).unwrap_or(&[]);
    }
    false
}

#[tokio::test]
async fn http2_connections_that_send_no_request_are_closed_within_header_timeout() {
    let app = App::start().await;
    // One slot (and so one worker): two silent HTTP/2 connections hold it in turn.
    let proxy = Hookguard::start(&config(
        &app.url(),
        "max_connections: 1, header_timeout: 1s, idle_timeout: 30s",
    ));
    let mut attackers = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
        stream.write_all(H2_PREFACE).await.expect("preface");
        stream.write_all(EMPTY_SETTINGS).await.expect("settings");
        attackers.push(stream);
    }
    let (status, took) = deliver(proxy.addr).await;
    assert_eq!(status, 202);
    // Each attacker lasts header_timeout plus the close grace at most.
    assert!(
        took < Duration::from_secs(6),
        "the delivery waited {took:?}"
    );
    for mut stream in attackers {
        let (closed, frames) = closed_within(&mut stream, Duration::from_secs(6)).await;
        assert!(closed.is_some(), "an attacker's connection stayed open");
        assert!(has_goaway(&frames), "closed with a GOAWAY");
    }
}

#[tokio::test]
async fn idle_http2_connections_get_goaway_and_close_at_idle_timeout() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(
        &app.url(),
        "max_connections: 1, header_timeout: 5s, idle_timeout: 1s",
    ));
    let mut idle = Vec::new();
    for _ in 0..1 {
        let stream = TcpStream::connect(proxy.addr).await.expect("connect");
        let (mut client, connection) = h2::client::handshake(stream).await.expect("h2");
        let driven = tokio::spawn(connection);
        let body = br#"{"then":"idle"}"#;
        let mut request = Request::post("http://hooks.example.test/gh");
        for (name, value) in github_headers(SECRET, body, &[]) {
            request = request.header(name, value);
        }
        let (response, mut send) = client
            .send_request(request.body(()).expect("request"), false)
            .expect("send");
        send.send_data(Bytes::from_static(body), true)
            .expect("body");
        let response = response.await.expect("response");
        assert_eq!(response.status(), 202);
        // The client keeps its handle: the connection stays open as far as it is concerned.
        idle.push((client, driven, Instant::now()));
    }
    // The one slot is held by the idle connection: a delivery waits for its end.
    let delivery = tokio::spawn(deliver(proxy.addr));
    for (_client, driven, since) in idle {
        let ended = tokio::time::timeout(Duration::from_secs(5), driven).await;
        let after = since.elapsed();
        assert!(ended.is_ok(), "an idle HTTP/2 connection stayed open");
        assert!(
            after >= Duration::from_millis(900) && after < Duration::from_secs(3),
            "closed after {after:?}"
        );
    }
    let (status, took) = delivery.await.expect("delivery");
    assert_eq!(status, 202);
    assert!(took < Duration::from_secs(3), "{took:?}");
}

/// An app that answers `BIG` bytes to a request with `X-Test-Big`, and counts its open connections.
struct BigApp {
    url: String,
    open: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl BigApp {
    async fn start() -> BigApp {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let open = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&open);
        let big = Bytes::from(vec![b'x'; BIG]);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let counter = Arc::clone(&counter);
                let big = big.clone();
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let body = match request.headers().contains_key("x-test-big") {
                            true => big.clone(),
                            false => Bytes::from_static(b"ok"),
                        };
                        async move { Ok::<_, std::convert::Infallible>(Response::new(Full::new(body))) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    counter.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        BigApp { url, open, task }
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Waits until the app has at most `count` connections open; how long that took.
    async fn open_at_most(&self, count: usize, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.open() <= count {
                return Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

impl Drop for BigApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A client socket with a small receive buffer, so the kernel cannot absorb the answer for it.
async fn small_window_client(addr: std::net::SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(addr).await.expect("connect")
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_after_send_timeout_and_the_app_freed() {
    let app = BigApp::start().await;
    let proxy = Hookguard::start(&config(&app.url, "send_timeout: 1s"));
    let mut readers = Vec::new();
    for _ in 0..3 {
        let mut stream = small_window_client(proxy.addr).await;
        stream
            .write_all(&genuine(&[("X-Test-Big", "1")]))
            .await
            .expect("request");
        readers.push(stream);
    }
    let started = Instant::now();
    while app.open() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the answers began"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    let freed = app.open_at_most(0, Duration::from_secs(4)).await;
    assert!(
        freed.is_some(),
        "the app still has {} connections held for readers that stopped",
        app.open()
    );
    assert!(started.elapsed() > Duration::from_millis(500));
    let (status, took) = deliver(proxy.addr).await;
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(1), "{took:?}");
    for mut stream in readers {
        let (closed, seen) = closed_within(&mut stream, Duration::from_secs(5)).await;
        assert!(closed.is_some(), "the reader's connection stayed open");
        assert!(seen.len() < BIG, "the reader was cut off before the end");
    }
}

#[tokio::test]
async fn an_http2_client_with_window_zero_is_cut_off_after_send_timeout_and_the_app_freed() {
    let app = BigApp::start().await;
    let proxy = Hookguard::start(&config(&app.url, "send_timeout: 1s"));
    let stream = TcpStream::connect(proxy.addr).await.expect("connect");
    let (mut client, connection) = h2::client::Builder::new()
        .initial_window_size(0)
        .handshake::<_, Bytes>(stream)
        .await
        .expect("h2");
    let driven = tokio::spawn(connection);
    let mut answers = Vec::new();
    let body = br#"{"genuine":true}"#;
    for _ in 0..5 {
        let mut request = Request::post("http://hooks.example.test/gh");
        for (name, value) in github_headers(SECRET, body, &[("X-Test-Big", "1")]) {
            request = request.header(name, value);
        }
        let (response, mut send) = client
            .send_request(request.body(()).expect("request"), false)
            .expect("send");
        send.send_data(Bytes::from_static(body), true)
            .expect("body");
        answers.push(response);
    }
    // The answers are kept, unread: dropping one would reset its stream.
    let mut unread = Vec::new();
    for response in answers {
        let response = response.await.expect("head");
        assert_eq!(response.status(), 200);
        unread.push(response);
    }
    assert_eq!(app.open(), 5, "each stream holds a connection to the app");
    let freed = app.open_at_most(0, Duration::from_secs(4)).await;
    assert!(
        freed.is_some(),
        "the app still has {} connections held for a client at window 0",
        app.open()
    );
    let ended = tokio::time::timeout(Duration::from_secs(2), driven).await;
    assert!(ended.is_ok(), "the window-0 connection was closed");
    let (status, took) = deliver(proxy.addr).await;
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(1), "{took:?}");
    drop(unread);
}

/// An HTTP/1.1 connection idle long enough for hookguard to drop hyper's state for it (about a
/// second) goes on exactly as before: a head that began before the wait and ends after it, a head
/// sent after the wait, and an ambiguous-length head that must still get its 400.
#[tokio::test]
async fn an_http1_connection_idle_for_seconds_keeps_serving_and_judging_heads() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app.url(), "idle_timeout: 30s"));
    // http1_request asks to close; this client keeps its connection.
    let request = String::from_utf8(genuine(&[]))
        .expect("text")
        .replace("Connection: close\r\n", "")
        .into_bytes();
    let (head, rest) = request.split_at(30);
    let idle = Duration::from_millis(1600);
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");

    // The next head's first bytes come with this request, and the rest after the idle wait.
    let mut first = request.clone();
    first.extend_from_slice(head);
    stream.write_all(&first).await.expect("write");
    assert_eq!(read_response(&mut stream).await.status, APP_STATUS);
    tokio::time::sleep(idle).await;
    stream.write_all(rest).await.expect("write");
    assert_eq!(read_response(&mut stream).await.status, APP_STATUS);

    // A head split across a wait that began with nothing pending.
    tokio::time::sleep(idle).await;
    stream.write_all(head).await.expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(rest).await.expect("write");
    assert_eq!(read_response(&mut stream).await.status, APP_STATUS);

    tokio::time::sleep(idle).await;
    let smuggle = b"POST /gh HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    stream.write_all(smuggle).await.expect("write");
    assert_eq!(read_response(&mut stream).await.status, 400);
    assert_eq!(app.take().len(), 3);
}
