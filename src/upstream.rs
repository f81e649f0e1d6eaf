//! Connections to the app: each worker thread keeps its own idle HTTP/1.1 keep-alive connections per
//! upstream. A request takes the most recently used one from a short list instead of going through
//! a shared pool that hashes the upstream's authority and takes a lock twice per request, and a
//! connection is only ever driven by the thread that uses it.
//!
//! A connection goes back to its list only when the app's response has been read to its end, so
//! one in the list is free for the next request. A request that could not be written because an
//! idle connection had just been closed by the app is sent again on another one: it never reached
//! the app.

use std::cell::RefCell;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::Uri;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service;

use crate::body::UpstreamBody;
use crate::config::Upstream;

/// Idle connections kept per upstream and worker, beyond which a finished one is closed:
/// `limits.upstream_idle_per_worker`, set once at start by [`keep_idle_per_worker`].
static IDLE_PER_WORKER: AtomicUsize = AtomicUsize::new(256);
/// An idle connection older than this is closed rather than reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of the app's response read ahead per connection (hyper's default is 408 KiB). While a
/// client reads slowly this is what each of its responses pins, beside the client side's buffer.
const MAX_READ_BUF: usize = 64 * 1024;

type Sender = http1::SendRequest<UpstreamBody>;

struct Idle {
    sender: Sender,
    since: Instant,
}

/// One worker's connections for one config generation.
struct Pools {
    generation: u64,
    connector: HttpsConnector<HttpConnector>,
    idle: Vec<(Upstream, Vec<Idle>)>,
}

thread_local! {
    static POOLS: RefCell<Option<Pools>> = const { RefCell::new(None) };
}

/// Why the app could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot connect: {0}")]
    Unreachable(Box<dyn std::error::Error + Send + Sync>),
    #[error("{0}")]
    Failed(hyper::Error),
}

/// The app's response body; once read to its end, it hands its connection back for reuse.
pub struct PooledBody {
    body: Incoming,
    lease: Option<Lease>,
    ended: bool,
}

struct Lease {
    sender: Sender,
    generation: u64,
    upstream: Upstream,
}

/// Sets how many idle connections each worker keeps per upstream (0: none, each connection closes
/// after its response). Called once, before the workers start; a legacy app that cannot hold many
/// connections asks for fewer.
pub fn keep_idle_per_worker(limit: usize) {
    IDLE_PER_WORKER.store(limit, Ordering::Relaxed);
}

/// Sends `request` to `upstream` on one of this worker's connections for config `generation`, or
/// on a new one. `tls` configures https upstreams.
pub async fn send(
    generation: u64,
    tls: &Arc<rustls::ClientConfig>,
    upstream: &Upstream,
    mut request: Request<UpstreamBody>,
) -> Result<Response<PooledBody>, UpstreamError> {
    loop {
        let (mut sender, reused) = match take_idle(generation, upstream) {
            Some(sender) => (sender, true),
            None => (connect(generation, tls, upstream).await?, false),
        };
        match sender.try_send_request(request).await {
            Ok(response) => {
                let lease = Lease {
                    sender,
                    generation,
                    upstream: upstream.clone(),
                };
                return Ok(response.map(|body| PooledBody {
                    body,
                    lease: Some(lease),
                    ended: false,
                }));
            }
            Err(mut error) => match error.take_message() {
                Some(unsent) if reused => request = unsent,
                _ => return Err(UpstreamError::Failed(error.into_error())),
            },
        }
    }
}

/// Runs `use_pools` on this worker's pools for `generation`, if it has them. Never panics: a thread
/// that is exiting, or a pool already in use further up the stack, just means no pooling this time.
fn with_pools<T>(generation: u64, use_pools: impl FnOnce(&mut Pools) -> T) -> Option<T> {
    POOLS
        .try_with(|cell| {
            let mut cell = cell.try_borrow_mut().ok()?;
            let pools = cell.as_mut().filter(|p| p.generation == generation)?;
            Some(use_pools(pools))
        })
        .ok()
        .flatten()
}

/// The most recently used idle connection that is still open and free.
fn take_idle(generation: u64, upstream: &Upstream) -> Option<Sender> {
    with_pools(generation, |pools| {
        let (_, list) = pools.idle.iter_mut().find(|(u, _)| u == upstream)?;
        let mut not_yet_free = Vec::new();
        let mut found = None;
        while let Some(idle) = list.pop() {
            if idle.sender.is_closed() || idle.since.elapsed() > IDLE_TIMEOUT {
                continue;
            }
            if idle.sender.is_ready() {
                found = Some(idle.sender);
                break;
            }
            // Its connection task has not yet run since the response ended; keep it for later.
            not_yet_free.push(idle);
        }
        for idle in not_yet_free.into_iter().rev() {
            list.insert(0, idle);
        }
        found
    })
    .flatten()
}

fn put_back(lease: Lease) {
    let Lease {
        sender,
        generation,
        upstream,
    } = lease;
    let limit = IDLE_PER_WORKER.load(Ordering::Relaxed);
    if sender.is_closed() || limit == 0 {
        return;
    }
    with_pools(generation, move |pools| {
        let at = match pools.idle.iter().position(|(u, _)| *u == upstream) {
            Some(at) => at,
            None => {
                pools.idle.push((upstream, Vec::new()));
                pools.idle.len() - 1
            }
        };
        let list = &mut pools.idle[at].1;
        let now = Instant::now();
        // The oldest are at the front: drop the expired ones, and make room.
        let expired = list
            .iter()
            .take_while(|idle| now.duration_since(idle.since) > IDLE_TIMEOUT)
            .count();
        list.drain(..expired);
        if list.len() >= limit {
            list.drain(..=list.len() - limit);
        }
        list.push(Idle { sender, since: now });
    });
}

/// This worker's connector for this generation, building the worker's pools on first use.
fn connector(generation: u64, tls: &Arc<rustls::ClientConfig>) -> HttpsConnector<HttpConnector> {
    let kept = POOLS.try_with(|cell| {
        let mut cell = cell.try_borrow_mut().ok()?;
        match cell.as_ref() {
            Some(pools) if pools.generation == generation => Some(pools.connector.clone()),
            _ => {
                let connector = build_connector(tls);
                // An earlier config's idle connections close as they are dropped here.
                *cell = Some(Pools {
                    generation,
                    connector: connector.clone(),
                    idle: Vec::new(),
                });
                Some(connector)
            }
        }
    });
    kept.ok().flatten().unwrap_or_else(|| build_connector(tls))
}

fn build_connector(tls: &Arc<rustls::ClientConfig>) -> HttpsConnector<HttpConnector> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((**tls).clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(http)
}

async fn connect(
    generation: u64,
    tls: &Arc<rustls::ClientConfig>,
    upstream: &Upstream,
) -> Result<Sender, UpstreamError> {
    let mut connector = connector(generation, tls);
    let target = Uri::builder()
        .scheme(upstream.scheme.clone())
        .authority(upstream.authority.clone())
        .path_and_query("/")
        .build()
        .map_err(|error| UpstreamError::Unreachable(error.into()))?;
    poll_fn(|cx| connector.poll_ready(cx))
        .await
        .map_err(UpstreamError::Unreachable)?;
    let io = connector
        .call(target)
        .await
        .map_err(UpstreamError::Unreachable)?;
    let (sender, connection) = http1::Builder::new()
        .max_buf_size(MAX_READ_BUF)
        .handshake(io)
        .await
        .map_err(|error| UpstreamError::Unreachable(error.into()))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "upstream connection ended with an error");
        }
    });
    Ok(sender)
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.ended = true,
            // A connection that failed mid-response is not reused.
            Poll::Ready(Some(Err(_))) => this.lease = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            // A response left unread would arrive in front of the next one: its connection closes.
            if self.ended || self.body.is_end_stream() {
                put_back(lease);
            }
        }
    }
}
