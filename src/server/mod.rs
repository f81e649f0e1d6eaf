//! The accept loop: one task per connection, TLS when configured, HTTP/1.1 and HTTP/2 on the same
//! port, and a graceful shutdown that stops accepting and lets requests in flight finish.
//!
//! - [`conn`]: per-connection deadlines: send_timeout, idle HTTP/2, the first request.
//! - [`park`]: idle HTTP/1.1 connections without hyper's buffers.
//! - [`smuggling`]: the HTTP/1.1 head tracker (Content-Length with Transfer-Encoding, header_timeout).

pub mod conn;
pub mod park;
pub mod smuggling;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit};

use crate::config::Limits;
use crate::config::LiveConfig;
use crate::proxy::{ConnectionInfo, PeerHeaders, Proxy};
use crate::server::conn::{ConnLimits, ConnState, SendDeadline};
use crate::server::smuggling::SniffedIo;

/// What a worker serves with: the config in force, read for limits and TLS, and the pipeline.
#[derive(Clone)]
pub struct Serving {
    pub live: Arc<LiveConfig>,
    pub proxy: Arc<Proxy>,
}

/// Bytes of request head (HTTP/1) or header list (HTTP/2); more is refused.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Response bytes HTTP/2 holds per stream beyond what the client's window lets out (hyper's
/// default is 400 KiB): with 100 streams, what one slow reader can make hookguard hold.
const MAX_H2_SEND_BUF: usize = 64 * 1024;

/// How a worker's connections are served: HTTP/2 by hyper-util's auto builder (which sniffs the
/// preface again from the bytes [`park::sniff_protocol`] read), HTTP/1.1 by hyper's own builder.
#[derive(Clone)]
struct Builders {
    http2: Arc<auto::Builder<TokioExecutor>>,
    http1: Arc<hyper::server::conn::http1::Builder>,
}

type Builder = Builders;

type Http2Conn<I, S> = auto::Connection<'static, TokioIo<park::PrefixedIo<I>>, S, TokioExecutor>;

/// The webhook listener, bound WITHOUT SO_REUSEPORT: it owns its address, so a second instance on
/// the same `listen` fails with "address in use", as nginx does. With SO_REUSEPORT any process of
/// the same user could bind it too and silently take a share of the traffic. SO_REUSEADDR only
/// lets a restart bind over connections in TIME_WAIT.
pub fn exclusive_listener(addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)?.into_std()
}

/// Runs one accept loop per thread, each on its own single-threaded runtime, all accepting from
/// clones of the one listening socket: whichever worker is free takes the next connection, and a
/// connection, its requests and its upstream connections stay on that thread, so no request pays
/// for waking another. The threads share the config and the connection limit, and stop when `stop`
/// turns true. `first` is the bound listener.
pub fn spawn_workers(
    first: std::net::TcpListener,
    serving: Serving,
    workers: usize,
    stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<Vec<std::thread::JoinHandle<()>>> {
    // Each worker gates its own accepts with its share of max_connections. A shared count would
    // let one worker take every slot while others sit idle; per-worker shares keep each worker's
    // load within its share.
    let max_connections = serving.live.load().config.limits.max_connections;
    let workers = workers.clamp(1, max_connections.max(1));
    let mut listeners = Vec::with_capacity(workers);
    for _ in 1..workers {
        listeners.push(first.try_clone()?);
    }
    listeners.push(first);
    listeners
        .into_iter()
        .enumerate()
        .map(|(index, listener)| {
            let serving = serving.clone();
            let share = max_connections / workers + usize::from(index < max_connections % workers);
            let slots = Arc::new(tokio::sync::Semaphore::new(share));
            let mut stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("hookguard-worker-{index}"))
                .spawn(move || {
                    crate::telemetry::logbuffer::enable_on_this_thread();
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .on_thread_park(crate::telemetry::logbuffer::flush_this_thread)
                        .build();
                    match runtime {
                        Ok(runtime) => runtime.block_on(async move {
                            tokio::spawn(hold_timer_floor());
                            match TcpListener::from_std(listener) {
                                Ok(listener) => {
                                    let shutdown = async move {
                                        let _ = stop.wait_for(|stop| *stop).await;
                                    };
                                    run(listener, serving, slots, shutdown).await;
                                }
                                Err(error) => {
                                    tracing::error!(%error, "worker cannot use the listener")
                                }
                            }
                        }),
                        Err(error) => tracing::error!(%error, "worker cannot start its runtime"),
                    }
                    crate::telemetry::logbuffer::flush_this_thread();
                })
        })
        .collect()
}

/// tokio wakes its own driver through an eventfd whenever a new timer is due sooner than every
/// timer already set, even from the driver's own thread. Each request sets two (body and upstream
/// timeouts) and cancels them within microseconds, so without an earlier timer in the wheel nearly
/// every request paid an extra `write` and `epoll_wait` round trip. A sleep renewed every
/// `TIMER_FLOOR` keeps one timer due sooner than any per-request deadline, for one wake-up a second.
/// Deadlines shorter than the floor still work; they only pay the wake-up again.
async fn hold_timer_floor() {
    loop {
        tokio::time::sleep(TIMER_FLOOR).await;
    }
}

const TIMER_FLOOR: Duration = Duration::from_secs(1);

/// The accept loop of one worker: a connection slot first, then a connection, until `shutdown`;
/// then the connections still open are given `shutdown_grace` to finish.
pub async fn run(
    listener: TcpListener,
    serving: Serving,
    slots: Arc<tokio::sync::Semaphore>,
    shutdown: impl Future<Output = ()>,
) {
    let builder = connection_builder(serving.live.load().config.limits);
    // Past the limit the loops stop accepting, so new connections wait in the kernel's queue while
    // the ones already served keep going.
    // Each connection holds a receiver: `send(true)` asks them all to finish, and `closed()` says
    // when the last is gone.
    let (drain, draining) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Running out of file descriptors must not end the server; back off briefly.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Every worker accepts from the same socket. Taking one connection per turn, as nginx does
        // with multi_accept off, lets an idle worker take the next one of a burst rather than this
        // worker taking them all.
        tokio::task::yield_now().await;
        hand_over(stream, peer, slot, &serving, &builder, &draining);
    }
    drop(listener);
    drop(draining);
    drain_connections(&serving.live, drain).await;
}

/// The HTTP/1.1 and HTTP/2 settings every connection of this worker is served with.
fn connection_builder(limits: Limits) -> Builder {
    let mut http1 = hyper::server::conn::http1::Builder::new();
    // The same settings as the auto builder's below; each connection gets its own timer
    // (park::HeadWaitTimer), set when it is served.
    http1
        .header_read_timeout(limits.idle_timeout)
        .max_headers(crate::proxy::MAX_HEADER_FIELDS)
        .max_buf_size(MAX_HEAD_BYTES);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper's header timer runs whenever HTTP/1 waits for a head, idle keep-alive included, so it
    // carries idle_timeout; a head that has begun is held to header_timeout by SniffedIo.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout)
        .max_headers(crate::proxy::MAX_HEADER_FIELDS)
        .max_buf_size(MAX_HEAD_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_concurrent_streams)
        .max_header_list_size(MAX_HEAD_BYTES as u32)
        .max_send_buf_size(MAX_H2_SEND_BUF);
    Builders {
        http2: Arc::new(builder),
        http1: Arc::new(http1),
    }
}

/// Hands an accepted connection to its own task, which holds `slot` until the connection ends.
fn hand_over(
    stream: TcpStream,
    peer: SocketAddr,
    slot: OwnedSemaphorePermit,
    serving: &Serving,
    builder: &Builder,
    draining: &watch::Receiver<bool>,
) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "could not set TCP_NODELAY");
    }
    let watcher = draining.clone();
    let builder = builder.clone();
    let serving = serving.clone();
    // The TLS config is read per connection, so renewed certificates apply without a restart.
    // The first bytes (the TLS handshake, or the first request) must come within header_timeout,
    // before any HTTP machinery is spent on the connection.
    let live = serving.live.load();
    let header_timeout = live.config.limits.header_timeout;
    let peer_info = Peer {
        addr: peer,
        tls: live.config.tls.is_some(),
        limits: ConnLimits {
            header_timeout,
            idle_timeout: live.config.limits.idle_timeout,
            send_timeout: live.config.limits.send_timeout,
        },
    };
    match live.config.tls.clone() {
        None => {
            tokio::spawn(async move {
                // `peek` waits for real bytes; tokio reports a new socket readable before any
                // arrive, so `readable()` would not.
                let mut first = [0u8; 1];
                match tokio::time::timeout(header_timeout, stream.peek(&mut first)).await {
                    Ok(Ok(n)) if n > 0 => {
                        serve(builder, watcher, serving.proxy, stream, peer_info, slot)
                    }
                    _ => tracing::debug!(%peer, "no request within header_timeout"),
                }
            });
        }
        Some(tls) => {
            tokio::spawn(async move {
                let acceptor = tokio_rustls::TlsAcceptor::from(tls);
                match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        serve(builder, watcher, serving.proxy, stream, peer_info, slot)
                    }
                    Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    }
}

/// Asks every open connection to finish and waits for them, up to `shutdown_grace`.
async fn drain_connections(live: &LiveConfig, drain: watch::Sender<bool>) {
    let grace = live.load().config.shutdown_grace;
    tracing::info!(
        grace_s = grace.as_secs_f64(),
        "shutting down: no new connections, draining"
    );
    let _ = drain.send(true);
    if tokio::time::timeout(grace, drain.closed()).await.is_err() {
        tracing::warn!("grace period over; closing the remaining connections");
    }
}

/// What the accept loop learned about a connection before handing it over.
struct Peer {
    addr: std::net::SocketAddr,
    tls: bool,
    /// Read once with the connection's config.
    limits: ConnLimits,
}

fn serve<I>(
    builder: Builder,
    drain: watch::Receiver<bool>,
    proxy: Arc<Proxy>,
    io: I,
    peer: Peer,
    slot: tokio::sync::OwnedSemaphorePermit,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (io, head_verdicts) = SniffedIo::new(io, Some(peer.limits.header_timeout));
    let io = SendDeadline::new(io, peer.limits.send_timeout);
    let limits = peer.limits;
    let state = ConnState::new();
    let peer_headers = Arc::new(PeerHeaders::new(peer.addr, peer.tls));
    let peer = peer.addr;
    let conn_info = ConnectionInfo {
        peer,
        head_verdicts,
        peer_headers,
    };
    let requests = Arc::clone(&state);
    let service = service_fn(move |request| {
        let proxy = Arc::clone(&proxy);
        let conn_info = conn_info.clone();
        // Counted from here, so the driver knows the connection is neither idle nor waiting for
        // its first request; the count ends when hyper drops the response body.
        let in_flight = requests.begin();
        // Boxed here so hyper's slot for the request in flight, which it allocates once and keeps
        // for the whole connection, holds a pointer: the request's state (7.9 KiB) is freed when
        // its response is ready, not when the (possibly long idle) connection ends.
        let handled = async move {
            let response = proxy.handle(request, &conn_info).await;
            Ok::<_, std::convert::Infallible>(response.map(|body| in_flight.track(body)))
        };
        Box::pin(handled)
    });
    let task = async move {
        let served = serve_protocol(builder, io, service, state, limits, drain).await;
        if let Err(error) = served {
            tracing::debug!(%peer, error = %error, "connection ended with an error");
        }
        drop(slot);
    };
    tokio::spawn(task);
}

/// Serves a connection as HTTP/2 or HTTP/1.1, as its first bytes say.
async fn serve_protocol<I, S, B>(
    builder: Builder,
    mut io: I,
    service: S,
    state: Arc<ConnState>,
    limits: ConnLimits,
    drain: watch::Receiver<bool>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Clone + Unpin,
    S: Send + 'static,
    S::Future: Unpin + Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // The preface must come within header_timeout, as the first request must.
    let sniffed = tokio::time::timeout(limits.header_timeout, park::sniff_protocol(&mut io)).await;
    let Ok(sniffed) = sniffed else {
        return Ok(());
    };
    let (protocol, pending) = sniffed?;
    if protocol == park::Protocol::Http1 {
        park::serve_http1(io, pending, service, &builder.http1, state, limits, drain).await?;
        return Ok(());
    }
    let io = park::PrefixedIo::new(pending, io, Arc::clone(&state));
    // Boxed: only HTTP/2 connections carry hyper's connection in their task.
    let connection = Box::pin(
        builder
            .http2
            .serve_connection(TokioIo::new(io), service)
            .into_owned(),
    );
    let handles = conn::Handles {
        go_away: |connection: Pin<&mut Pin<Box<Http2Conn<I, S>>>>| {
            connection.get_mut().as_mut().graceful_shutdown()
        },
        park: None,
    };
    conn::drive(connection, handles, state, limits, drain).await?;
    Ok(())
}
