//! The recording app: a real HTTP server standing in for the app behind hookguard.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

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
    /// When the request arrived, for tests of retry schedules.
    pub at: Instant,
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
        Self::serve(listener, tls, Vec::new())
    }

    /// An app whose first answers have the given statuses, in order, and then the usual one.
    pub async fn start_scripted(statuses: &[u16]) -> App {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind app");
        Self::serve(listener, None, statuses.to_vec())
    }

    /// A loopback address nothing listens on yet, for an app that starts later with `start_on`.
    pub fn free_addr() -> SocketAddr {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind probe");
        probe.local_addr().expect("probe addr")
    }

    /// The app on `addr`, which a config already names.
    pub async fn start_on(addr: SocketAddr) -> App {
        let listener = TcpListener::bind(addr)
            .await
            .expect("bind app on its address");
        Self::serve(listener, None, Vec::new())
    }

    fn serve(
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        script: Vec<u16>,
    ) -> App {
        let addr = listener.local_addr().expect("app addr");
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&recorded);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let sink = Arc::clone(&sink);
                let tls = tls.clone();
                let script = Arc::clone(&script);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let sink = Arc::clone(&sink);
                        let script = Arc::clone(&script);
                        async move {
                            let at = Instant::now();
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
                                .or_else(|| script.lock().expect("lock").pop_front())
                                .unwrap_or(APP_STATUS);
                            // And a Retry-After on its answers, to play an app that asks for time.
                            let retry_after = parts.headers.get("x-test-retry-after").cloned();
                            sink.lock().expect("lock").push(Recorded {
                                method: parts.method,
                                target,
                                headers: parts.headers,
                                body,
                                at,
                            });
                            let mut response = Response::builder();
                            if let Some(seconds) = retry_after {
                                response = response.header("retry-after", seconds);
                            }
                            let response = response
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

    /// Waits until `seen` plus what the app records holds `count` requests, within `limit`.
    pub async fn collect(&self, seen: &mut Vec<Recorded>, count: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            seen.extend(self.take());
            if seen.len() >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the app got only {} of {count} requests",
                seen.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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
