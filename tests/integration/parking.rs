//! HTTP/1.1 connections idle long enough to be parked (about a second without a request, see
//! src/server/park.rs) behave exactly as unparked ones: pipelines and heads that straddle a park,
//! header_timeout, idle_timeout, the smuggling verdicts, drain, a client that leaves, HTTP/2 and
//! `Connection: close`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{
    github_headers, http1_request, read_response, send_h2, App, Hookguard, RawResponse, APP_STATUS,
};

const SECRET: &str = "parking-test-secret";
/// Longer than hookguard's PARK_AFTER (1 s): a connection idle this long has been parked.
const PARKED: Duration = Duration::from_millis(1400);
const AMBIGUOUS: &[u8] = b"POST /gh HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";

fn config(app: &App, limits: &str, top: &str) -> String {
    format!(
        "listen: 127.0.0.1:0\nupstream: {}\n{top}limits: {{{limits}}}\nroutes:\n  - path: /gh\n    provider: github\n    secrets: [{{value: {SECRET}}}]\n",
        app.url()
    )
}

/// A signed delivery that keeps its connection open, told apart by `seq` (in its body).
fn keep_alive(seq: usize) -> Vec<u8> {
    let body = format!(r#"{{"seq":{seq}}}"#).into_bytes();
    let request = http1_request("POST", "/gh", &github_headers(SECRET, &body, &[]), &body);
    String::from_utf8(request)
        .expect("text")
        .replace("Connection: close\r\n", "")
        .into_bytes()
}

/// The same delivery with a signature that does not verify (401): its place in a pipeline shows.
fn forged(seq: usize) -> Vec<u8> {
    let body = format!(r#"{{"seq":{seq}}}"#).into_bytes();
    let mut headers = github_headers("not-the-secret", &body, &[]);
    headers.retain(|(name, _)| !name.eq_ignore_ascii_case("connection"));
    let request = http1_request("POST", "/gh", &headers, &body);
    String::from_utf8(request)
        .expect("text")
        .replace("Connection: close\r\n", "")
        .into_bytes()
}

/// Reads responses in order, each one whole, from one stream.
async fn responses(stream: &mut TcpStream, count: usize) -> Vec<RawResponse> {
    let mut all = Vec::new();
    for _ in 0..count {
        all.push(read_one(stream).await);
    }
    all
}

/// One response read a byte at a time, so that the next one stays in the socket.
async fn read_one<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> RawResponse {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout_at(deadline, stream.read(&mut byte))
            .await
            .expect("a response within 10 s")
            .expect("read");
        assert!(
            read == 1,
            "closed mid-response: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length: usize = text
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map(|value| value.trim().parse().expect("length"))
        .expect("these responses carry Content-Length");
    let mut body = vec![0u8; length];
    tokio::time::timeout_at(deadline, stream.read_exact(&mut body))
        .await
        .expect("body within 10 s")
        .expect("body");
    head.extend_from_slice(&body);
    parse(&head)
}

fn parse(bytes: &[u8]) -> RawResponse {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head_len) = response.parse(bytes).expect("parses") else {
        panic!("incomplete head");
    };
    RawResponse {
        status: response.code.expect("status"),
        headers: response
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
        body: bytes[head_len..].to_vec(),
    }
}

/// Reads until the server closes the connection: how long that took, or `None` past `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut scratch = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut scratch)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// Closes `stream` with a reset (SO_LINGER 0) rather than a FIN.
#[allow(deprecated)] // tokio warns that a lingering close blocks; with a zero linger it does not.
fn reset(stream: TcpStream) {
    stream.set_linger(Some(Duration::ZERO)).expect("linger");
    drop(stream);
}

/// The `seq` of each delivery the app got, in order.
fn seqs(app: &App) -> Vec<usize> {
    app.take()
        .iter()
        .map(|recorded| {
            let body: serde_json::Value = serde_json::from_slice(&recorded.body).expect("json");
            body["seq"].as_u64().expect("seq") as usize
        })
        .collect()
}

#[tokio::test]
async fn pipelined_requests_straddling_a_park_are_all_answered_in_order() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, "idle_timeout: 30s", ""));
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");

    // Three whole requests and the first half of a fourth in one write, then a park.
    let fourth = keep_alive(4);
    let (fourth_head, fourth_rest) = fourth.split_at(fourth.len() / 2);
    let first: Vec<u8> = [&keep_alive(1)[..], &forged(2), &keep_alive(3), fourth_head].concat();
    stream.write_all(&first).await.expect("write");
    let statuses: Vec<u16> = responses(&mut stream, 3)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [APP_STATUS, 401, APP_STATUS]);
    tokio::time::sleep(PARKED).await;

    // The rest of the fourth and three more in one write after the park.
    let second: Vec<u8> = [fourth_rest, &forged(5), &keep_alive(6), &keep_alive(7)].concat();
    stream.write_all(&second).await.expect("write");
    let statuses: Vec<u16> = responses(&mut stream, 4)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [APP_STATUS, 401, APP_STATUS, APP_STATUS]);

    // A whole pipeline sent to a parked connection.
    tokio::time::sleep(PARKED).await;
    let third: Vec<u8> = [&keep_alive(8)[..], &forged(9), &keep_alive(10)].concat();
    stream.write_all(&third).await.expect("write");
    let statuses: Vec<u16> = responses(&mut stream, 3)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [APP_STATUS, 401, APP_STATUS]);
    assert_eq!(seqs(&app), [1, 3, 4, 6, 7, 8, 10]);
}

#[tokio::test]
async fn a_head_begun_while_parked_and_stalled_is_closed_at_header_timeout() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, "header_timeout: 1s, idle_timeout: 20s", ""));

    // Begun after the park.
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream.write_all(&keep_alive(1)).await.expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    tokio::time::sleep(PARKED).await;
    stream
        .write_all(b"POST /gh HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let took = closed_within(&mut stream, Duration::from_secs(6)).await;
    let took = took.expect("a stalled head is closed at header_timeout, not idle_timeout");
    assert!(took >= Duration::from_millis(800), "closed early: {took:?}");

    // Begun before the park (with the last request) and stalled across it.
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    let started = Instant::now();
    stream
        .write_all(&[&keep_alive(2)[..], b"POST /gh HTTP/1.1\r\n"].concat())
        .await
        .expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    let took = closed_within(&mut stream, Duration::from_secs(6)).await;
    assert!(
        took.is_some(),
        "a head begun before a park is still held to header_timeout"
    );
    assert!(started.elapsed() < Duration::from_secs(4));

    // Dribbled across the park, a byte at a time: the head's clock does not restart.
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream.write_all(&keep_alive(3)).await.expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    tokio::time::sleep(PARKED).await;
    let began = Instant::now();
    let mut closed_after = None;
    for byte in b"POST /gh HTTP/1.1\r\nHost: dribble\r\nX-Slow: ".iter() {
        if stream.write_all(&[*byte]).await.is_err() {
            closed_after = Some(began.elapsed());
            break;
        }
        let mut scratch = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(150), stream.read(&mut scratch)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed_after = Some(began.elapsed());
                break;
            }
            _ => {}
        }
    }
    let closed_after = closed_after.expect("a dribbled head is closed at header_timeout");
    assert!(
        closed_after < Duration::from_secs(3),
        "closed after {closed_after:?}"
    );
    assert_eq!(seqs(&app), [1, 2, 3]);
}

#[tokio::test]
async fn smuggling_verdicts_line_up_with_requests_across_several_parks() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, "idle_timeout: 30s", ""));

    // Requests across two parks, then an ambiguous one first after a third.
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    for seq in 1..=3 {
        stream.write_all(&keep_alive(seq)).await.expect("write");
        assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
        tokio::time::sleep(PARKED).await;
    }
    stream.write_all(AMBIGUOUS).await.expect("write");
    let after_parks = read_response(&mut stream).await;

    // The answer an ambiguous head gets on a connection that never parked.
    let mut fresh = TcpStream::connect(proxy.addr).await.expect("connect");
    fresh.write_all(AMBIGUOUS).await.expect("write");
    let unparked = read_response(&mut fresh).await;
    assert_eq!(unparked.status, 400);
    assert!(!unparked.body.is_empty(), "hookguard's own refusal");
    assert_eq!(
        (after_parks.status, &after_parks.body),
        (400, &unparked.body)
    );

    // A head whose first bytes came with the last request before the park: a fine one passes,
    // an ambiguous one gets the very answer it gets unparked (not hyper's for a broken head).
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    let fine = keep_alive(40);
    let (head, rest) = fine.split_at(40);
    stream
        .write_all(&[&keep_alive(4)[..], head].concat())
        .await
        .expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    tokio::time::sleep(PARKED).await;
    stream.write_all(rest).await.expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    let (head, rest) = AMBIGUOUS.split_at(40);
    stream
        .write_all(&[&keep_alive(41)[..], head].concat())
        .await
        .expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    tokio::time::sleep(PARKED).await;
    stream.write_all(rest).await.expect("write");
    let parked = read_response(&mut stream).await;
    assert_eq!((parked.status, &parked.body), (400, &unparked.body));

    // A pipeline after a park: fine, ambiguous; the fine one passes, the ambiguous one is refused
    // and nothing after it is served.
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream.write_all(&keep_alive(5)).await.expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    tokio::time::sleep(PARKED).await;
    stream
        .write_all(&[&keep_alive(6)[..], AMBIGUOUS, &keep_alive(7)].concat())
        .await
        .expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    assert_eq!(read_one(&mut stream).await.status, 400);
    assert!(closed_within(&mut stream, Duration::from_secs(3))
        .await
        .is_some());

    // A fresh connection after all that: parks, then a normal request still passes.
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream.write_all(&keep_alive(8)).await.expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    tokio::time::sleep(PARKED).await;
    stream.write_all(&keep_alive(9)).await.expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    assert_eq!(seqs(&app), [1, 2, 3, 4, 40, 41, 5, 6, 8, 9]);
}

#[tokio::test]
async fn a_parked_connection_closes_at_idle_timeout_from_its_last_request() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(
        &app,
        "header_timeout: 5s, idle_timeout: 2500ms",
        "",
    ));
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream.write_all(&keep_alive(1)).await.expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    // Parked, then a request at 1.6 s: the idle clock restarts from its end.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    stream.write_all(&keep_alive(2)).await.expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    let ended = Instant::now();
    let took = closed_within(&mut stream, Duration::from_secs(6))
        .await
        .expect("closed at idle_timeout");
    assert!(
        took >= Duration::from_millis(2300),
        "closed before idle_timeout from the last request: {took:?}"
    );
    assert!(took < Duration::from_millis(3500), "closed late: {took:?}");
    assert!(ended.elapsed() < Duration::from_secs(4));
}

/// A connection whose next head began before the park and then stalled is closed at
/// idle_timeout, as an unparked one is, not a close grace later (hyper, taking over after the
/// park, would count it as busy with a first request).
#[tokio::test]
async fn a_parked_connection_with_a_stalled_next_head_closes_at_idle_timeout() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(
        &app,
        "header_timeout: 20s, idle_timeout: 2500ms",
        "",
    ));
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream
        .write_all(&[&keep_alive(1)[..], b"POST /gh HTTP/1.1\r\n"].concat())
        .await
        .expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    let took = closed_within(&mut stream, Duration::from_secs(6))
        .await
        .expect("closed at idle_timeout");
    assert!(
        took >= Duration::from_millis(2300) && took < Duration::from_millis(3200),
        "closed after {took:?}"
    );
}

/// Empty lines (which hyper skips before a head) wake a parked connection but are no request:
/// sent every half second, they do not keep it open past idle_timeout.
#[tokio::test]
async fn empty_lines_do_not_keep_a_parked_connection_past_idle_timeout() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, "header_timeout: 20s, idle_timeout: 3s", ""));
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream.write_all(&keep_alive(1)).await.expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    let ended = Instant::now();
    tokio::time::sleep(PARKED).await;
    let mut scratch = [0u8; 256];
    let closed_after = loop {
        assert!(
            ended.elapsed() < Duration::from_secs(6),
            "kept open by empty lines"
        );
        if stream.write_all(b"\r\n").await.is_err() {
            break ended.elapsed();
        }
        match tokio::time::timeout(Duration::from_millis(500), stream.read(&mut scratch)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break ended.elapsed(),
            Ok(Ok(_)) => panic!("no answer to empty lines"),
            Err(_) => {}
        }
    };
    assert!(
        closed_after >= Duration::from_millis(2800) && closed_after < Duration::from_millis(4200),
        "closed after {closed_after:?}"
    );
}

#[tokio::test]
async fn sigterm_closes_parked_connections_promptly_and_the_process_exits() {
    let app = App::start().await;
    let mut proxy = Hookguard::start(&config(&app, "idle_timeout: 30s", "shutdown_grace: 20s\n"));
    let mut parked = Vec::new();
    for seq in 0..3 {
        let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
        stream.write_all(&keep_alive(seq)).await.expect("write");
        assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
        parked.push(stream);
    }
    // One of them with a head begun before the park (hyper held it; the park hands it back).
    parked[2].write_all(b"POST /gh").await.expect("write");
    tokio::time::sleep(PARKED).await;
    let signalled = Instant::now();
    proxy.signal("TERM");
    for stream in &mut parked {
        let took = closed_within(stream, Duration::from_secs(3)).await;
        assert!(took.is_some(), "a parked connection outlived the drain");
    }
    drop(parked);
    proxy.wait_exit(Duration::from_secs(5));
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "exit waited for shutdown_grace"
    );
}

#[tokio::test]
async fn a_client_that_leaves_while_parked_gives_its_connection_slot_back() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(
        &app,
        "max_connections: 1, header_timeout: 2s, idle_timeout: 30s",
        "",
    ));
    // Half-closed while parked.
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream.write_all(&keep_alive(1)).await.expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    tokio::time::sleep(PARKED).await;
    stream.shutdown().await.expect("half-close");
    assert!(
        closed_within(&mut stream, Duration::from_secs(2))
            .await
            .is_some(),
        "hookguard closes its side when the client half-closes"
    );
    drop(stream);

    // Reset while parked (SO_LINGER 0 sends RST on close).
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream.write_all(&keep_alive(2)).await.expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    tokio::time::sleep(PARKED).await;
    reset(stream);

    // Reset while parked with a head begun before the park.
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream
        .write_all(&[&keep_alive(3)[..], b"POST /gh HTTP/1.1\r\n"].concat())
        .await
        .expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    tokio::time::sleep(PARKED).await;
    reset(stream);

    // The one slot is free again at once (well before idle_timeout).
    let started = Instant::now();
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream.write_all(&keep_alive(4)).await.expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(seqs(&app), [1, 2, 3, 4]);
}

#[tokio::test]
async fn http2_is_still_served_and_a_stalled_preface_is_closed_at_header_timeout() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, "header_timeout: 1s, idle_timeout: 20s", ""));
    let body = br#"{"seq":1}"#;
    let mut request = Request::post("http://hooks.example.test/gh");
    for (name, value) in github_headers(SECRET, body, &[]) {
        request = request.header(name, value);
    }
    let request = request
        .body(Full::new(Bytes::from_static(body)))
        .expect("request");
    let (status, _, _) = send_h2(proxy.addr, request).await;
    assert_eq!(status.as_u16(), APP_STATUS);

    for partial in [&b"PRI * HT"[..], b"PRI * HTTP/2.0\r\n\r\nSM\r\n"] {
        let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
        stream.write_all(partial).await.expect("write");
        let took = closed_within(&mut stream, Duration::from_secs(4))
            .await
            .expect("a stalled preface is closed");
        assert!(took < Duration::from_secs(3), "closed after {took:?}");
    }
    // A preface dribbled a byte at a time is held to header_timeout as a whole.
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    let began = Instant::now();
    let mut closed = false;
    for byte in b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r".iter() {
        if stream.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        let mut scratch = [0u8; 64];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(200), stream.read(&mut scratch)).await
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "a dribbled preface outlived header_timeout");
    assert!(began.elapsed() < Duration::from_secs(3));
    assert_eq!(seqs(&app), [1]);
}

#[tokio::test]
async fn connection_close_after_a_park_is_honoured() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, "idle_timeout: 30s", ""));
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream.write_all(&keep_alive(1)).await.expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    tokio::time::sleep(PARKED).await;
    let body = br#"{"seq":2}"#;
    let closing = http1_request("POST", "/gh", &github_headers(SECRET, body, &[]), body);
    // And a request after it, which must not be served.
    stream
        .write_all(&[&closing[..], &keep_alive(3)].concat())
        .await
        .expect("write");
    let response = read_one(&mut stream).await;
    assert_eq!(response.status, APP_STATUS);
    assert!(
        response
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close")),
        "{response:?}"
    );
    assert!(closed_within(&mut stream, Duration::from_secs(2))
        .await
        .is_some());
    assert_eq!(seqs(&app), [1, 2]);
}

/// An app that answers every request with as many bytes as its `X-Len` header asks for.
async fn big_app() -> (String, tokio::task::JoinHandle<()>) {
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let len = request
                        .headers()
                        .get("x-len")
                        .and_then(|v| v.to_str().ok()?.parse().ok())
                        .unwrap_or(0);
                    let body = Full::new(Bytes::from(vec![b'x'; len]));
                    async move { Ok::<_, std::convert::Infallible>(http::Response::new(body)) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, task)
}

/// Reads one response of `len` body bytes whole off a keep-alive connection.
async fn read_big(stream: &mut TcpStream, len: usize) {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(stream.read(&mut byte).await.expect("read"), 1, "closed");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains(&format!("content-length: {len}")), "{head}");
    let mut read = 0;
    let mut chunk = vec![0u8; 64 * 1024];
    while read < len {
        let want = chunk.len().min(len - read);
        let got = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk[..want]))
            .await
            .expect("the body keeps coming")
            .expect("read");
        assert!(got > 0, "the response was cut short at {read} of {len}");
        read += got;
    }
}

/// A response the client does not read for longer than a park, while hookguard's write buffer
/// still holds its end (the app's answer over, so the connection looks idle), arrives whole and
/// the connection goes on: a park never drops bytes hyper still has to send.
#[tokio::test]
async fn a_response_the_client_leaves_unread_past_a_park_is_not_cut_short() {
    let (url, app_task) = big_app().await;
    let proxy = Hookguard::start(&format!(
        "listen: 127.0.0.1:0\nupstream: {url}\nlimits: {{send_timeout: 10s, idle_timeout: 30s}}\nroutes:\n  - path: /gh\n    provider: github\n    secrets: [{{value: {SECRET}}}]\n"
    ));
    // Some of these are larger than the kernel buffers between a client that reads nothing and
    // hookguard, but smaller than those and hyper's write buffer together: their connection is
    // idle while hyper still holds bytes. Where that lies depends on the kernel's autotuning, so
    // many sizes are tried at once.
    let clients: Vec<_> = (8..48)
        .map(|step| {
            let addr = proxy.addr;
            tokio::spawn(async move { slow_reader(addr, step * 128 * 1024).await })
        })
        .collect();
    for client in clients {
        client.await.expect("client");
    }
    app_task.abort();
}

/// Asks for `len` bytes twice on one connection, the first time reading nothing for longer than
/// a park.
async fn slow_reader(addr: std::net::SocketAddr, len: usize) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut stream = socket.connect(addr).await.expect("connect");
    let body = br#"{"seq":0}"#;
    let len_text = len.to_string();
    let headers = github_headers(SECRET, body, &[("X-Len", len_text.as_str())]);
    let request = String::from_utf8(http1_request("POST", "/gh", &headers, body))
        .expect("text")
        .replace("Connection: close\r\n", "")
        .into_bytes();
    stream.write_all(&request).await.expect("write");
    tokio::time::sleep(PARKED).await;
    read_big(&mut stream, len).await;
    stream.write_all(&request).await.expect("write");
    read_big(&mut stream, len).await;
}

/// Over TLS (rustls may hold decrypted bytes of the next head when the connection parks) a
/// pipeline and a head split across parks are served in order, and idle_timeout still applies.
#[tokio::test]
async fn an_http1_connection_over_tls_parks_and_resumes() {
    use rustls::pki_types::pem::PemObject;
    use std::sync::Arc;
    let app = App::start().await;
    let pki = crate::support::pki();
    let top = format!(
        "tls: {{cert: {}, key: {}}}\n",
        pki.cert_path.display(),
        pki.key_path.display()
    );
    let proxy = Hookguard::start(&config(&app, "idle_timeout: 4s", &top));
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
        roots.add(cert.expect("pem")).expect("root");
    }
    let mut client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(proxy.addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut stream = connector.connect(name, tcp).await.expect("handshake");

    let second = keep_alive(2);
    let (head, rest) = second.split_at(30);
    stream
        .write_all(&[&keep_alive(1)[..], head].concat())
        .await
        .expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    tokio::time::sleep(PARKED).await;
    stream
        .write_all(&[rest, &forged(3), &keep_alive(4)].concat())
        .await
        .expect("write");
    let statuses = [
        read_one(&mut stream).await.status,
        read_one(&mut stream).await.status,
        read_one(&mut stream).await.status,
    ];
    assert_eq!(statuses, [APP_STATUS, 401, APP_STATUS]);
    tokio::time::sleep(PARKED).await;
    stream.write_all(&keep_alive(5)).await.expect("write");
    assert_eq!(read_one(&mut stream).await.status, APP_STATUS);
    assert_eq!(seqs(&app), [1, 2, 4, 5]);

    // Parked until idle_timeout from the last request, then closed.
    let ended = Instant::now();
    let mut scratch = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(8), stream.read(&mut scratch)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "closed at idle_timeout: {read:?}"
    );
    let took = ended.elapsed();
    assert!(
        took >= Duration::from_millis(3700) && took < Duration::from_millis(5000),
        "closed after {took:?}"
    );
}
