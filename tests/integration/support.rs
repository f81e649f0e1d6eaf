//! Test support: the real `hookguard` binary on 127.0.0.1:0, a recording upstream app, and a raw
//! HTTP/1.1 client that writes requests byte for byte.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const APP_STATUS: u16 = 202;
pub const APP_BODY: &str = "app took it";

/// One request as the upstream app saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    /// Path and query as sent on the wire.
    pub target: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A real HTTP server standing in for the app: it records every request and answers 202 with
/// headers that include hop-by-hop ones, so the proxy's response hygiene can be seen.
pub struct App {
    pub addr: SocketAddr,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl App {
    pub async fn start() -> App {
        Self::start_with_tls(None).await
    }

    /// The same app behind TLS, for https upstream tests.
    pub async fn start_with_tls(tls: Option<Arc<rustls::ServerConfig>>) -> App {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind app");
        let addr = listener.local_addr().expect("app addr");
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&recorded);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let sink = Arc::clone(&sink);
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let sink = Arc::clone(&sink);
                        async move {
                            let (parts, body) = request.into_parts();
                            // A test can ask the app to be slow, to see requests in flight.
                            let delay = parts
                                .headers
                                .get("x-test-delay-ms")
                                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                            if let Some(ms) = delay {
                                tokio::time::sleep(Duration::from_millis(ms)).await;
                            }
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let target = parts
                                .uri
                                .path_and_query()
                                .map(|pq| pq.to_string())
                                .unwrap_or_default();
                            // A test can also ask for another status, to play a failing app.
                            let status = parts
                                .headers
                                .get("x-test-status")
                                .and_then(|v| v.to_str().ok()?.parse::<u16>().ok())
                                .unwrap_or(APP_STATUS);
                            sink.lock().expect("lock").push(Recorded {
                                method: parts.method,
                                target,
                                headers: parts.headers,
                                body,
                            });
                            let response = Response::builder()
                                .status(status)
                                .header("x-app", "yes")
                                .header("connection", "x-app-hop")
                                .header("x-app-hop", "1")
                                .header("keep-alive", "timeout=5")
                                .body(Full::new(Bytes::from_static(APP_BODY.as_bytes())))
                                .expect("response");
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match tls {
                        None => {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                        Some(tls) => {
                            if let Ok(stream) =
                                tokio_rustls::TlsAcceptor::from(tls).accept(stream).await
                            {
                                let _ = builder
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            }
                        }
                    }
                });
            }
        });
        App {
            addr,
            recorded,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything received so far, leaving the record empty.
    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.recorded.lock().expect("lock"))
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_hookguard")
}

/// A running `hookguard run` process; killed on drop.
pub struct Hookguard {
    pub addr: SocketAddr,
    /// The admin listener's address, when the config has one.
    pub admin: Option<SocketAddr>,
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Hookguard {
    /// Writes `config` (YAML, or JSON, which YAML reads too) and starts the binary on it. The
    /// config should say `listen: 127.0.0.1:0`; the bound address is read from the log.
    pub fn start(config: &str) -> Hookguard {
        Self::start_with_env(config, &[])
    }

    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> Hookguard {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hookguard.yaml");
        std::fs::write(&path, config).expect("write config");
        Self::start_at(dir, &path, env)
    }

    /// Starts on a config file the test owns (and may rewrite); `dir` is kept alive with the process.
    pub fn start_at(
        dir: tempfile::TempDir,
        path: &std::path::Path,
        env: &[(&str, &str)],
    ) -> Hookguard {
        let mut child = Command::new(binary())
            .args(["run", "--config"])
            .arg(path)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hookguard");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        let (addr_tx, addr_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut admin = None;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) =
                    field(&line, "admin_addr").and_then(|a| a.parse::<SocketAddr>().ok())
                {
                    admin = Some(addr);
                }
                if line.contains(" listening ") || line.contains(r#""message":"listening""#) {
                    if let Some(addr) =
                        field(&line, "addr").and_then(|a| a.parse::<SocketAddr>().ok())
                    {
                        let _ = addr_tx.send((addr, admin));
                    }
                }
                sink.lock().expect("lock").push(line);
            }
        });
        let (addr, admin) = match addr_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(found) => found,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "hookguard did not start; logs: {:?}",
                    logs.lock().expect("lock")
                );
            }
        };
        Hookguard {
            addr,
            admin,
            child,
            logs,
            _dir: dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// The most resident memory the process has had, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc status"))
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Sends a Unix signal (`HUP`, `TERM`, ...) to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "hookguard did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// GETs an admin path; returns status and body.
    pub async fn admin_get(&self, path: &str) -> (u16, String) {
        let admin = self.admin.expect("config has an admin listener");
        let response = send_raw(admin, &http1_request("GET", path, &[], b"")).await;
        (response.status, response.body_text())
    }

    /// The value of one Prometheus sample, by its full text before the value.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let (_, text) = self.admin_get("/metrics").await;
        text.lines().find_map(|line| {
            line.strip_prefix(series)?
                .strip_prefix(' ')?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("lock").clone()
    }

    /// Waits until a log line containing `needle` appears, for lines written just after a response.
    pub fn wait_for_log(&self, needle: &str) -> String {
        self.wait_for_logs(needle, 1).remove(0)
    }

    /// Waits until at least `count` log lines contain `needle`, and returns them all.
    pub fn wait_for_logs(&self, needle: &str, count: usize) -> Vec<String> {
        for _ in 0..500 {
            let lines: Vec<String> = self
                .logs()
                .into_iter()
                .filter(|l| l.contains(needle))
                .collect();
            if lines.len() >= count {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "fewer than {count} log lines with {needle:?} in {:?}",
            self.logs()
        );
    }
}

impl Drop for Hookguard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of field `name` in a log line, text (`name=value`) or JSON (`"name":"value"`).
pub fn field(line: &str, name: &str) -> Option<String> {
    if line.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        return match &value[name] {
            serde_json::Value::String(text) => Some(text.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        };
    }
    text_field(line, name).map(str::to_string)
}

fn text_field<'l>(line: &'l str, name: &str) -> Option<&'l str> {
    let start = line.find(&format!(" {name}="))? + name.len() + 2;
    let rest = &line[start..];
    Some(
        rest.split_whitespace()
            .next()
            .unwrap_or("")
            .trim_matches('"'),
    )
}

/// A response as read off the socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Builds an HTTP/1.1 request with the headers exactly as given (names keep their case), adding
/// Host, Content-Length (when there is a body or the method carries one) and `Connection: close`.
pub fn http1_request(
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: hooks.example.test\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || !matches!(method, "GET" | "HEAD" | "DELETE" | "OPTIONS") {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Writes raw bytes and reads one response, until the server closes or the framing says it is done.
pub async fn send_raw(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write request");
    read_response(&mut stream).await
}

pub async fn read_response(stream: &mut TcpStream) -> RawResponse {
    let mut buffer = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(response) = parse_response(&buffer) {
            return response;
        }
        let mut chunk = [0u8; 16 * 1024];
        let read = tokio::time::timeout_at(deadline, stream.read(&mut chunk))
            .await
            .expect("response within 15 s");
        match read {
            Ok(0) | Err(_) => {
                return parse_response(&buffer).unwrap_or_else(|| {
                    panic!(
                        "incomplete response: {:?}",
                        String::from_utf8_lossy(&buffer)
                    )
                })
            }
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A complete response in `buffer`, or `None` while more bytes are needed.
fn parse_response(buffer: &[u8]) -> Option<RawResponse> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head_len) = response.parse(buffer).ok()? else {
        return None;
    };
    let status = response.code?;
    // Interim answers (100 Continue) come before the real one.
    if (100..200).contains(&status) && status != 101 {
        return parse_response(&buffer[head_len..]);
    }
    let headers: Vec<(String, String)> = response
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let rest = &buffer[head_len..];
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if let Some(length) = find("content-length") {
        let length: usize = length.trim().parse().ok()?;
        if rest.len() < length {
            return None;
        }
        rest[..length].to_vec()
    } else if find("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
        decode_chunked(rest)?
    } else {
        rest.to_vec()
    };
    Some(RawResponse {
        status,
        headers,
        body,
    })
}

fn decode_chunked(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        if rest.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// Sends one request over HTTP/2 with prior knowledge, as an h2c client would.
pub async fn send_h2(
    addr: SocketAddr,
    request: Request<Full<Bytes>>,
) -> (StatusCode, HeaderMap, Bytes) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(connection);
    let response = sender.send_request(request).await.expect("h2 response");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("h2 body").to_bytes();
    (parts.status, parts.headers, body)
}

/// A config with one GitHub-signed route at `/gh` in front of `app`; `top` adds top-level keys and
/// `route` adds keys to the route (indented four spaces).
pub fn github_config(app: &App, secret: &str, top: &str, route: &str) -> String {
    format!(
        "listen: 127.0.0.1:0\nupstream: {}\n{top}\nroutes:\n  - path: /gh\n    provider: github\n    secrets: [{{value: {secret}}}]\n{route}\n",
        app.url()
    )
}

/// The header GitHub would send for `body`, plus any `extra` headers.
pub fn github_headers(secret: &str, body: &[u8], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut headers = vec![(
        "X-Hub-Signature-256".to_string(),
        format!("sha256={}", hmac_sha256_hex(secret.as_bytes(), body)),
    )];
    headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    headers
}

/// HMAC-SHA256 in hex, computed here independently of hookguard's own code.
pub fn hmac_sha256_hex(secret: &[u8], body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("hmac key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}
