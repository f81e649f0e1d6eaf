//! hookguard's connections to the app: kept alive and reused across deliveries, replaced quietly
//! when the app closed an idle one, and never reused while part of an abandoned response is unread.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::support::{github_headers, read_response, Hookguard};

const SECRET: &str = "upstream-test-secret";

/// What the scripted app does after answering a request.
#[derive(Clone, Copy)]
enum AfterAnswer {
    KeepOpen,
    Close,
}

/// An app on a raw socket, so the test sees every connection hookguard opens to it. A request with
/// `X-Test-Big: 1` gets the head and the start of a large body, and the rest never comes.
struct ScriptedApp {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    /// One message per connection the proxy closed while a large answer was still unsent.
    abandoned: mpsc::UnboundedReceiver<()>,
}

impl ScriptedApp {
    async fn start(after: AfterAnswer) -> ScriptedApp {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (abandoned_tx, abandoned) = mpsc::unbounded_channel();
        let (accepted, served) = (Arc::clone(&connections), Arc::clone(&requests));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let served = Arc::clone(&served);
                let abandoned_tx = abandoned_tx.clone();
                tokio::spawn(serve(stream, after, served, abandoned_tx));
            }
        });
        ScriptedApp {
            addr,
            connections,
            requests,
            abandoned,
        }
    }
}

async fn serve(
    mut stream: TcpStream,
    after: AfterAnswer,
    served: Arc<AtomicUsize>,
    abandoned: mpsc::UnboundedSender<()>,
) {
    let mut buffer = Vec::new();
    loop {
        let Some((big, consumed)) = read_request(&mut stream, &mut buffer).await else {
            return;
        };
        buffer.drain(..consumed);
        served.fetch_add(1, Ordering::SeqCst);
        if big {
            let head = "HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n";
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&[b'x'; 1000]).await;
            // Wait for the proxy to give up on this connection.
            let mut probe = [0u8; 1];
            if let Ok(Ok(0)) =
                tokio::time::timeout(Duration::from_secs(10), stream.read(&mut probe)).await
            {
                let _ = abandoned.send(());
            }
            return;
        }
        let answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        if stream.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
        if let AfterAnswer::Close = after {
            return;
        }
    }
}

/// Reads one request with a Content-Length body: whether it asked for a big answer, and its length.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<(bool, usize)> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(head_len)) = request.parse(buffer) {
            let header = |name: &str| {
                request
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| String::from_utf8_lossy(h.value).into_owned())
            };
            let length: usize = header("content-length")?.trim().parse().ok()?;
            let big = header("x-test-big").is_some();
            if buffer.len() >= head_len + length {
                return Some((big, head_len + length));
            }
        }
        let mut chunk = [0u8; 16 * 1024];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

fn proxy_for(app: &ScriptedApp) -> Hookguard {
    proxy_with(app, "")
}

/// The proxy with more top-level keys, such as `workers` or `limits`.
fn proxy_with(app: &ScriptedApp, extra_top: &str) -> Hookguard {
    Hookguard::start(&format!(
        "listen: 127.0.0.1:0\nupstream: http://{}\n{extra_top}\nroutes:\n  - path: /gh\n    provider: github\n    secrets: [{{value: {SECRET}}}]\n",
        app.addr
    ))
}

/// A signed keep-alive request, as a sender reusing its connection writes it.
fn keep_alive_request(extra: &[(&str, &str)]) -> Vec<u8> {
    let body = br#"{"action":"opened"}"#;
    let mut out = String::from("POST /gh HTTP/1.1\r\nHost: hooks.example.test\r\n");
    for (name, value) in github_headers(SECRET, body, extra) {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Sends one signed delivery on `client` and requires the app's own answer back.
async fn deliver_ok(client: &mut TcpStream) {
    client
        .write_all(&keep_alive_request(&[]))
        .await
        .expect("write");
    let response = read_response(client).await;
    assert_eq!(
        (response.status, response.body_text().as_str()),
        (200, "ok")
    );
}

#[tokio::test]
async fn deliveries_in_a_row_share_one_connection_to_the_app() {
    let app = ScriptedApp::start(AfterAnswer::KeepOpen).await;
    let proxy = proxy_for(&app);
    let mut client = TcpStream::connect(proxy.addr).await.expect("connect");
    for _ in 0..10 {
        deliver_ok(&mut client).await;
    }
    assert_eq!(app.requests.load(Ordering::SeqCst), 10);
    assert_eq!(app.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn upstream_idle_per_worker_0_keeps_no_connection_to_the_app() {
    let app = ScriptedApp::start(AfterAnswer::KeepOpen).await;
    let proxy = proxy_with(&app, "workers: 1\nlimits: {upstream_idle_per_worker: 0}");
    let mut client = TcpStream::connect(proxy.addr).await.expect("connect");
    for _ in 0..3 {
        deliver_ok(&mut client).await;
    }
    assert_eq!(app.requests.load(Ordering::SeqCst), 3);
    assert_eq!(app.connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_idle_connection_the_app_closed_is_replaced_without_a_refusal() {
    let app = ScriptedApp::start(AfterAnswer::Close).await;
    let proxy = proxy_for(&app);
    let mut client = TcpStream::connect(proxy.addr).await.expect("connect");
    for _ in 0..3 {
        deliver_ok(&mut client).await;
        // Time for the app's close to reach hookguard, as between two real deliveries.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.connections.load(Ordering::SeqCst), 3);
    assert!(proxy.logs().iter().all(|line| !line.contains("status=502")));
}

#[tokio::test]
async fn a_response_the_client_abandoned_closes_its_connection_to_the_app() {
    let mut app = ScriptedApp::start(AfterAnswer::KeepOpen).await;
    let proxy = proxy_for(&app);
    let mut leaving = TcpStream::connect(proxy.addr).await.expect("connect");
    leaving
        .write_all(&keep_alive_request(&[("X-Test-Big", "1")]))
        .await
        .expect("write");
    let mut start = [0u8; 512];
    let read = leaving.read(&mut start).await.expect("the answer starts");
    assert!(start[..read].starts_with(b"HTTP/1.1 200"));
    drop(leaving);
    // The rest of that answer must never be taken for the next one: the connection is closed.
    tokio::time::timeout(Duration::from_secs(5), app.abandoned.recv())
        .await
        .expect("hookguard closes the abandoned connection within 5 s")
        .expect("a message");
    let mut next = TcpStream::connect(proxy.addr).await.expect("connect");
    deliver_ok(&mut next).await;
    assert_eq!(app.connections.load(Ordering::SeqCst), 2);
}
