//! The admin listener and its routing: `/livez`, `/readyz` and `/metrics` (apart from the proxy port
//! so probes and scrapes keep working while the proxy drains), `/api/*` handed to [`inspect`]
//! (the journal and its live feed) or [`api`] (the spool), and the inspector page ([`page`]).

mod api;
mod auth;
mod feed;
mod inspect;
mod journal;
mod page;
mod reply;

pub use journal::{Counts, Entry, Journal};

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::config::LiveConfig;
use crate::delivery::Queue;
use crate::telemetry::metrics::Metrics;
use reply::{text, Answer};

/// A client gets this long to send a request head; the admin port must not be held open by
/// connections that never finish one.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// What the probes report. `ready` is true once the proxy listener accepts, false from SIGTERM on.
pub struct Health {
    pub ready: AtomicBool,
    pub metrics: Arc<Metrics>,
}

/// Everything the admin endpoints read.
pub struct Admin {
    pub health: Arc<Health>,
    /// The config in force, read per request so a reload can rotate `admin_token`.
    pub live: Arc<LiveConfig>,
    /// The spool, when the config has one.
    pub queue: Option<Arc<Queue>>,
    /// Recent requests and per-route counts, for `/api/deliveries`, `/api/routes` and the feed.
    pub journal: Arc<Journal>,
    /// Whether the configured admin address is loopback: elsewhere even reads need the token.
    pub loopback: bool,
}

/// `/api` and everything under it goes to the API; the rest are probes.
async fn answer(admin: &Admin, request: Request<Incoming>, peer: SocketAddr) -> Answer {
    // The API takes no request bodies, so the body is never read.
    let (parts, _body) = request.into_parts();
    let path = parts.uri.path();
    if path == "/api" || path.starts_with("/api/") {
        if let Some(answer) = inspect::answer(admin, &parts) {
            return answer;
        }
        return api::answer(admin, &parts, peer).await;
    }
    if let Some(answer) = page::answer(&parts.method, path) {
        return answer;
    }
    probe(&admin.health, &parts.method, path)
}

/// The token rule for every `/api/*` endpoint: `None` lets the request in, otherwise the refusal.
/// The config is read per request so a reload can rotate `admin_token`.
fn gate(admin: &Admin, changes: bool, headers: &http::HeaderMap) -> Option<Answer> {
    let live = admin.live.load();
    let token = live.config.admin_token.as_ref();
    match auth::check(token, changes, admin.loopback, headers) {
        Ok(()) => None,
        Err(auth::Denied::Unauthorized) => Some(reply::unauthorized()),
        Err(auth::Denied::NotConfigured) => Some(reply::error(
            StatusCode::FORBIDDEN,
            "admin token not configured",
        )),
    }
}

fn probe(health: &Health, method: &Method, path: &str) -> Answer {
    if method != Method::GET && method != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "GET only\n");
    }
    match path {
        "/livez" => text(StatusCode::OK, "text/plain", "ok\n"),
        "/readyz" if health.ready.load(Ordering::SeqCst) => {
            text(StatusCode::OK, "text/plain", "ready\n")
        }
        "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "not ready\n"),
        "/metrics" => text(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            health.metrics.encode(),
        ),
        _ => text(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    }
}

/// Serves the admin endpoints until the process exits.
pub async fn run(listener: TcpListener, admin: Arc<Admin>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let admin = Arc::clone(&admin);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let admin = Arc::clone(&admin);
                async move { Ok::<_, Infallible>(answer(&admin, request, peer).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
