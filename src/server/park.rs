//! HTTP/1.1 keep-alive connections that give hyper's per-connection state back while idle.
//!
//! hyper keeps a read buffer (8 KiB), a write buffer (8 KiB) and its dispatcher for as long as a
//! connection lives, although between two requests an HTTP/1.1 connection carries nothing but its
//! socket. A connection idle for [`PARK_AFTER`] is "parked": hyper is asked to close it while it
//! waits for the next head (it hands back the socket and any bytes already read), and only the
//! socket, its wrappers and a small probe wait for the next request. When bytes come, a new hyper
//! connection takes the socket, those bytes first. HTTP/2 (sniffed as hyper-util's auto builder
//! does) is served as before.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;

use crate::server::conn::{drive, ConnLimits, ConnState, Handles};

/// How long an HTTP/1.1 connection waits for its next request before hyper's state is dropped. A
/// request after a longer wait pays for a new hyper connection (a few allocations) and one more
/// read; a busy connection never parks.
pub const PARK_AFTER: Duration = Duration::from_secs(1);

/// Bytes a parked connection reads to learn that its next request has begun; hyper reads the rest.
const PROBE_BYTES: usize = 64;

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Whether a connection's first bytes are the HTTP/2 preface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    Http2,
}

/// Reads until the bytes stop matching the HTTP/2 preface or complete it, as hyper-util's auto
/// builder does; returns the protocol and the bytes read, which the server must see first.
pub async fn sniff_protocol<I: AsyncRead + Unpin>(io: &mut I) -> io::Result<(Protocol, Bytes)> {
    let mut buf = [0u8; H2_PREFACE.len()];
    let mut filled = 0;
    while filled < H2_PREFACE.len() {
        let read = io.read(&mut buf[filled..]).await?;
        let matches = read > 0 && buf[filled..filled + read] == H2_PREFACE[filled..filled + read];
        filled += read;
        if !matches {
            return Ok((Protocol::Http1, Bytes::copy_from_slice(&buf[..filled])));
        }
    }
    Ok((Protocol::Http2, Bytes::copy_from_slice(&buf)))
}

/// A connection's IO with bytes already read put back in front, which also tells the connection's
/// state whether the last write had to wait for the client (hyper still holds unsent bytes then).
pub struct PrefixedIo<T> {
    prefix: Bytes,
    inner: T,
    state: Arc<ConnState>,
}

impl<T> PrefixedIo<T> {
    pub fn new(prefix: Bytes, inner: T, state: Arc<ConnState>) -> Self {
        PrefixedIo {
            prefix,
            inner,
            state,
        }
    }

    /// The IO and what of the prefix was not read yet.
    fn into_parts(self) -> (T, Bytes) {
        (self.inner, self.prefix)
    }

    fn note_write<R>(&self, polled: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        self.state.set_write_blocked(polled.is_pending());
        polled
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for PrefixedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.prefix.is_empty() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let taken = this.prefix.len().min(buf.remaining());
        buf.put_slice(&this.prefix[..taken]);
        this.prefix.advance(taken);
        if this.prefix.is_empty() {
            // An empty slice of hyper's last read buffer would still hold all of it.
            this.prefix = Bytes::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for PrefixedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, data);
        this.note_write(polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.note_write(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.note_write(polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// hyper's timer for one HTTP/1 connection. hyper starts its header timer exactly when it begins
/// to wait for a request head and drops it once the head is in, so the timer's life says when
/// hyper is between requests: the only moment it can be closed without touching a request.
pub struct HeadWaitTimer {
    state: Arc<ConnState>,
}

impl HeadWaitTimer {
    pub fn new(state: Arc<ConnState>) -> Self {
        HeadWaitTimer { state }
    }

    fn flagged(&self, inner: Pin<Box<dyn hyper::rt::Sleep>>) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.state.count_head_wait(true);
        Box::pin(HeadWait {
            inner,
            state: Arc::clone(&self.state),
        })
    }
}

impl hyper::rt::Timer for HeadWaitTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.flagged(TokioTimer::new().sleep(duration))
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.flagged(TokioTimer::new().sleep_until(deadline))
    }
}

struct HeadWait {
    inner: Pin<Box<dyn hyper::rt::Sleep>>,
    state: Arc<ConnState>,
}

impl Future for HeadWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().inner.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for HeadWait {}

impl Drop for HeadWait {
    fn drop(&mut self) {
        self.state.count_head_wait(false);
    }
}

type Http1Conn<I, S> = http1::Connection<TokioIo<PrefixedIo<I>>, S>;
type Parts<I, S> = http1::Parts<TokioIo<PrefixedIo<I>>, S>;

/// How one hyper connection's turn on the socket ended.
pub enum Turn<I, S> {
    /// hyper was closed while between requests; the socket goes on.
    Parked(Parts<I, S>),
    /// hyper ended the connection itself (close, EOF, graceful shutdown): shut the socket down.
    Closed(TokioIo<PrefixedIo<I>>),
    /// hyper ended it with an error, which is reported once the socket is shut down.
    Failed(TokioIo<PrefixedIo<I>>, hyper::Error),
}

/// A hyper HTTP/1 connection that can be parked. hyper's connection is boxed so that the task
/// that serves the socket does not keep room for it while parked.
pub struct Instance<I, S: hyper::service::HttpService<Incoming>> {
    conn: Option<Box<Http1Conn<I, S>>>,
    state: Arc<ConnState>,
    /// Requests begun before this instance: parking waits for one of its own to have ended.
    begun_before: u64,
    parking: bool,
    /// Closed by us, not hyper: see `graceful_shutdown`.
    closing: bool,
}

impl<I, S, B> Instance<I, S>
where
    I: AsyncRead + AsyncWrite + Unpin,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Unpin,
    S::Future: Unpin,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    pub fn new(conn: Http1Conn<I, S>, state: Arc<ConnState>) -> Self {
        let begun_before = state.begun();
        Instance {
            conn: Some(Box::new(conn)),
            state,
            begun_before,
            parking: false,
            closing: false,
        }
    }

    /// hyper's graceful shutdown: the connection closes once its current request is done.
    pub fn graceful_shutdown(self: Pin<&mut Self>) {
        let this = self.get_mut();
        // An instance that took over after a park and still waits for its first head (maybe
        // part of one) is, to the client, a kept-alive connection between requests, which hyper
        // closes at once; but to hyper a connection that has served nothing is busy, and it would
        // wait for that head. It is closed here instead, on the next poll.
        let state = &this.state;
        if this.begun_before > 0
            && state.begun() == this.begun_before
            && state.awaiting_head()
            && state.is_idle()
        {
            this.closing = true;
            return;
        }
        if let Some(conn) = this.conn.as_mut() {
            Pin::new(&mut **conn).graceful_shutdown();
        }
    }

    /// Parks the connection if hyper is between requests with nothing left to send; says whether
    /// it did. hyper then closes at once (an idle connection's graceful shutdown), keeping the IO.
    pub fn park(mut self: Pin<&mut Self>) -> bool {
        let state = &self.state;
        let between_requests = state.begun() > self.begun_before
            && state.awaiting_head()
            && !state.write_blocked()
            && state.is_idle();
        if between_requests {
            self.parking = true;
            self.graceful_shutdown();
        }
        between_requests
    }
}

impl<I, S, B> Future for Instance<I, S>
where
    I: AsyncRead + AsyncWrite + Unpin,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Unpin,
    S::Future: Unpin,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = Result<Turn<I, S>, std::convert::Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.closing {
            if let Some(conn) = this.conn.take() {
                return Poll::Ready(Ok(Turn::Closed(conn.into_parts().io)));
            }
        }
        let Some(conn) = this.conn.as_mut() else {
            return Poll::Pending;
        };
        let ended = std::task::ready!(conn.poll_without_shutdown(cx));
        let Some(conn) = this.conn.take() else {
            return Poll::Pending;
        };
        let parts = conn.into_parts();
        Poll::Ready(Ok(match ended {
            Err(error) => Turn::Failed(parts.io, error),
            Ok(()) if this.parking => Turn::Parked(parts),
            Ok(()) => Turn::Closed(parts.io),
        }))
    }
}

/// Serves HTTP/1.1 on `io`, `pending` (bytes already read) first, parking the connection whenever
/// it idles for [`PARK_AFTER`], until the client or `limits` end it or the server drains.
pub async fn serve_http1<I, S, B>(
    mut io: I,
    mut pending: Bytes,
    mut service: S,
    base: &http1::Builder,
    state: Arc<ConnState>,
    limits: ConnLimits,
    mut drain: watch::Receiver<bool>,
) -> Result<(), hyper::Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Unpin,
    S::Future: Unpin,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    loop {
        let mut builder = base.clone();
        builder.timer(HeadWaitTimer::new(Arc::clone(&state)));
        let prefixed = PrefixedIo::new(pending, io, Arc::clone(&state));
        let conn = builder.serve_connection(TokioIo::new(prefixed), service);
        let handles = Handles {
            go_away: Instance::graceful_shutdown,
            park: Some((PARK_AFTER, Instance::park)),
        };
        let instance = Instance::new(conn, Arc::clone(&state));
        let Ok(turn) = drive(instance, handles, Arc::clone(&state), limits, drain.clone()).await;
        let parts = match turn {
            Some(Turn::Parked(parts)) => parts,
            Some(Turn::Closed(io)) => {
                close(io).await;
                return Ok(());
            }
            Some(Turn::Failed(io, error)) => {
                close(io).await;
                return Err(error);
            }
            // Cut off (send_timeout): dropped at once.
            None => return Ok(()),
        };
        (io, pending, service) = unpark(parts);
        if pending.is_empty() {
            match wait_parked(&mut io, &state, &limits, &mut drain).await {
                Wake::Request(bytes) => pending = bytes,
                Wake::Close => {
                    let _ = io.shutdown().await;
                    return Ok(());
                }
            }
        }
    }
}

/// What a parked connection waits for.
enum Wake {
    /// The next request's first bytes.
    Request(Bytes),
    /// idle_timeout, the client's close, an error or a shutdown: close the connection.
    Close,
}

/// Waits, holding only the socket, for the next request, until `idle_timeout` after the last one
/// ended or until the server drains.
async fn wait_parked<I: AsyncRead + Unpin>(
    io: &mut I,
    state: &ConnState,
    limits: &ConnLimits,
    drain: &mut watch::Receiver<bool>,
) -> Wake {
    let deadline = state.idle_since() + limits.idle_timeout;
    let mut probe = [0u8; PROBE_BYTES];
    tokio::select! {
        biased;
        _ = drain.wait_for(|draining| *draining) => Wake::Close,
        read = io.read(&mut probe) => match read {
            Ok(read) if read > 0 => Wake::Request(Bytes::copy_from_slice(&probe[..read])),
            _ => Wake::Close,
        },
        () = tokio::time::sleep_until(deadline) => Wake::Close,
    }
}

/// The IO hyper handed back and the bytes it had read but not parsed, in front of any prefix it
/// never read.
fn unpark<I, S>(parts: Parts<I, S>) -> (I, Bytes, S) {
    let (inner, unread_prefix) = parts.io.into_inner().into_parts();
    // Copied, not sliced: the slice would hold hyper's whole read buffer (8 KiB or more) while
    // the connection is parked, and an empty one holds it too.
    let pending = if unread_prefix.is_empty() {
        Bytes::copy_from_slice(&parts.read_buf)
    } else {
        let mut joined = BytesMut::with_capacity(parts.read_buf.len() + unread_prefix.len());
        joined.extend_from_slice(&parts.read_buf);
        joined.extend_from_slice(&unread_prefix);
        joined.freeze()
    };
    (inner, pending, parts.service)
}

/// Ends a connection hyper closed, as hyper would have: the write side shut down.
async fn close<I: AsyncWrite + Unpin>(io: TokioIo<PrefixedIo<I>>) {
    let (mut inner, _) = io.into_inner().into_parts();
    let _ = inner.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_http2_preface_is_told_from_an_http1_request_and_its_bytes_kept() {
        let mut h2: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04";
        let (protocol, read) = sniff_protocol(&mut h2).await.expect("sniffed");
        assert_eq!((protocol, &read[..]), (Protocol::Http2, H2_PREFACE));

        let mut h1: &[u8] = b"PRI /not-the-preface HTTP/1.1\r\n\r\n";
        let (protocol, read) = sniff_protocol(&mut h1).await.expect("sniffed");
        assert_eq!(protocol, Protocol::Http1);
        // What was read and what is left make the whole request.
        assert_eq!(
            [&read[..], h1].concat(),
            b"PRI /not-the-preface HTTP/1.1\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn prefixed_io_reads_its_prefix_first_in_any_piece_size() {
        for piece in [1, 3, 64] {
            let inner: &[u8] = b" world";
            let mut io = PrefixedIo::new(Bytes::from_static(b"hello"), inner, ConnState::new());
            let mut out = Vec::new();
            let mut buf = vec![0u8; piece];
            loop {
                let read = io.read(&mut buf).await.expect("read");
                if read == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..read]);
            }
            assert_eq!(out, b"hello world");
            assert!(io.prefix.is_empty());
        }
    }
}
