//! The accept loop: one task per connection, TLS when configured, HTTP/1.1 and HTTP/2 on the same
//! port, and a graceful shutdown that stops accepting and lets requests in flight finish.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

use crate::proxy::{ConnectionInfo, PeerHeaders, Proxy};
use crate::smuggling::SniffedIo;

/// A TLS handshake that has not finished by then is dropped, so idle sockets cannot pile up.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

type Builder = Arc<auto::Builder<TokioExecutor>>;

/// Serves `listener` until `shutdown` resolves, then drains connections for the config's
/// `shutdown_grace` and returns.
pub async fn run(listener: TcpListener, proxy: Arc<Proxy>, shutdown: impl Future<Output = ()>) {
    let limits = proxy.live().config.limits;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http2()
        .max_concurrent_streams(limits.h2_max_concurrent_streams);
    let builder: Builder = Arc::new(builder);
    // Past the limit the loop stops accepting, so new connections wait in the kernel's queue while
    // the ones already served keep going.
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
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
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let watcher = graceful.watcher();
        let builder = Arc::clone(&builder);
        let proxy = Arc::clone(&proxy);
        // The TLS config is read per connection, so renewed certificates apply without a restart.
        match proxy.live().config.tls.clone() {
            None => serve(builder, watcher, proxy, stream, peer, false, slot),
            Some(tls) => {
                tokio::spawn(async move {
                    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        Ok(Ok(stream)) => serve(builder, watcher, proxy, stream, peer, true, slot),
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
    drop(listener);
    let grace = proxy.live().config.shutdown_grace;
    tracing::info!(
        grace_s = grace.as_secs_f64(),
        "shutting down: no new connections, draining"
    );
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over; closing the remaining connections");
    }
}

fn serve<I>(
    builder: Builder,
    watcher: Watcher,
    proxy: Arc<Proxy>,
    io: I,
    peer: std::net::SocketAddr,
    tls: bool,
    slot: tokio::sync::OwnedSemaphorePermit,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (io, head_verdicts) = SniffedIo::new(io);
    let peer_headers = Arc::new(PeerHeaders::new(peer, tls));
    let conn_info = ConnectionInfo {
        peer,
        head_verdicts,
        peer_headers,
    };
    let service = service_fn(move |request| {
        let proxy = Arc::clone(&proxy);
        let conn_info = conn_info.clone();
        async move { Ok::<_, std::convert::Infallible>(proxy.handle(request, &conn_info).await) }
    });
    tokio::spawn(async move {
        let connection = builder.serve_connection(TokioIo::new(io), service);
        if let Err(error) = watcher.watch(connection.into_owned()).await {
            tracing::debug!(%peer, error = %error, "connection ended with an error");
        }
        drop(slot);
    });
}
