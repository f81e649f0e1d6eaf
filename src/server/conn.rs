//! Deadlines a client connection needs beyond hyper's own: the longest wait between two writes to
//! the client (`send_timeout`), a response the client never lets through (HTTP/2 flow control),
//! the end of an idle HTTP/2 connection (`idle_timeout`) and the first request's arrival
//! (`header_timeout`), and when an idle HTTP/1.1 connection is parked (see `park`). One timer per
//! connection does all of it; a request only touches atomics.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// After a GOAWAY, how long a connection with no request in flight may take to close on its own
/// (one round trip for the PING hyper sends with it) before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Response bodies waiting for the client are counted by the tick they began waiting in; a body
/// still counted two ticks later has waited at least `send_timeout` (ticks are half of it).
const SLOTS: usize = 3;

/// The timeouts one connection is held to, read once when it is accepted.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub send_timeout: Duration,
}

/// A connection's IO whose writes fail once the client has taken nothing for `limit`. The clock
/// is armed only while a write is pending and disarmed by any write that goes through, so a
/// client that reads promptly costs no timer at all. The failed write ends the connection, and
/// with it every response it carried and their connections to the app.
pub struct SendDeadline<T> {
    inner: T,
    limit: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl<T> SendDeadline<T> {
    pub fn new(inner: T, limit: Duration) -> Self {
        SendDeadline {
            inner,
            limit,
            timer: None,
            armed: false,
        }
    }

    /// A write is pending: starts the clock on the first wait and says whether it has run out.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.armed {
            let deadline = Instant::now() + self.limit;
            match self.timer.as_mut() {
                Some(timer) => timer.as_mut().reset(deadline),
                // Boxed once per connection, and only for one that ever had to wait.
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.armed = true;
        }
        self.timer
            .as_mut()
            .is_some_and(|timer| timer.as_mut().poll(cx).is_ready())
    }

    fn after<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        match polled {
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "client took nothing for send_timeout",
            ))),
            Poll::Pending => Poll::Pending,
            ready => {
                self.armed = false;
                ready
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for SendDeadline<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for SendDeadline<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, data);
        this.after(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.after(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.after(cx, polled)
    }
}

/// What a connection's driver knows of its requests, shared with the responses it serves.
pub struct ConnState {
    opened: Instant,
    /// Requests ever begun (a head in, the service called).
    begun: AtomicU64,
    /// Requests whose response has not yet ended.
    active: AtomicUsize,
    /// When the last response ended, in ms after `opened`.
    last_end_ms: AtomicU64,
    /// The driver's tick count, which picks the slot a newly waiting body is counted in.
    tick: AtomicUsize,
    /// Response bodies hyper holds but does not poll: they wait for the client to take data.
    waiting: [AtomicUsize; SLOTS],
    /// HTTP/1: hyper's header timers alive, which it holds exactly while it waits for a head.
    head_waits: AtomicUsize,
    /// The last write to the client had to wait: hyper holds bytes not yet sent.
    write_blocked: AtomicBool,
}

impl ConnState {
    pub fn new() -> Arc<ConnState> {
        Arc::new(ConnState {
            opened: Instant::now(),
            begun: AtomicU64::new(0),
            active: AtomicUsize::new(0),
            last_end_ms: AtomicU64::new(0),
            tick: AtomicUsize::new(0),
            waiting: [const { AtomicUsize::new(0) }; SLOTS],
            head_waits: AtomicUsize::new(0),
            write_blocked: AtomicBool::new(false),
        })
    }

    /// Requests ever begun on this connection.
    pub fn begun(&self) -> u64 {
        self.begun.load(Ordering::Relaxed)
    }

    /// No request in flight.
    pub fn is_idle(&self) -> bool {
        self.active.load(Ordering::Relaxed) == 0
    }

    /// HTTP/1: hyper waits for a request head.
    pub fn awaiting_head(&self) -> bool {
        self.head_waits.load(Ordering::Relaxed) > 0
    }

    /// hyper set a header timer (`true`) or dropped one; a timer replaced by another is counted
    /// until it is dropped, so the count never dips while hyper waits.
    pub fn count_head_wait(&self, started: bool) {
        if started {
            self.head_waits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.head_waits.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub fn write_blocked(&self) -> bool {
        self.write_blocked.load(Ordering::Relaxed)
    }

    pub fn set_write_blocked(&self, blocked: bool) {
        self.write_blocked.store(blocked, Ordering::Relaxed);
    }

    /// A request has begun; it stays in flight until the returned guard (then its response body)
    /// is dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.begun.fetch_add(1, Ordering::Relaxed);
        self.active.fetch_add(1, Ordering::Relaxed);
        InFlight {
            state: Arc::clone(self),
        }
    }

    /// When the last response ended (when the connection opened, before any).
    pub fn idle_since(&self) -> Instant {
        self.opened + Duration::from_millis(self.last_end_ms.load(Ordering::Relaxed))
    }
}

/// One request in flight on a connection.
pub struct InFlight {
    state: Arc<ConnState>,
}

impl InFlight {
    /// Wraps the response body, which carries this request's place until hyper is done with it.
    pub fn track<B>(self, body: B) -> Tracked<B> {
        let mut tracked = Tracked {
            inner: body,
            in_flight: self,
            slot: None,
        };
        // Until hyper first polls it, the body waits on the client's side of the connection.
        tracked.start_waiting();
        tracked
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let state = &self.state;
        let ended = state.opened.elapsed().as_millis();
        state
            .last_end_ms
            .store(u64::try_from(ended).unwrap_or(u64::MAX), Ordering::Relaxed);
        state.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that tells its connection's driver whether hyper is waiting for the client to
/// take data before it asks for more. A body hyper stops polling while it could go on (HTTP/2 flow
/// control at window 0, or a client that stopped reading) is counted until it is polled again.
pub struct Tracked<B> {
    inner: B,
    in_flight: InFlight,
    slot: Option<usize>,
}

impl<B> Tracked<B> {
    fn start_waiting(&mut self) {
        let state = &self.in_flight.state;
        let slot = state.tick.load(Ordering::Relaxed) % SLOTS;
        state.waiting[slot].fetch_add(1, Ordering::Relaxed);
        self.slot = Some(slot);
    }

    fn stop_waiting(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.in_flight.state.waiting[slot].fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl<B> Drop for Tracked<B> {
    fn drop(&mut self) {
        self.stop_waiting();
    }
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        this.stop_waiting();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        // Pending waits on the app (upstream_timeout's business); a frame handed over means the
        // next move is the client's.
        if let Poll::Ready(Some(Ok(_))) = &polled {
            this.start_waiting();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Why the driver ends a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Go,
    /// GOAWAY (or HTTP/1's close after the current request), then close.
    GoAway(&'static str),
    /// Dropped at once.
    Cut(&'static str),
    /// Idle for a while: hyper's state may be dropped, the socket kept.
    Park,
}

/// The driver's own clock and phase for one connection.
struct Watch {
    limits: ConnLimits,
    tick_every: Duration,
    next_tick: Instant,
    going_away: Option<Instant>,
    draining: bool,
    /// How long an idle connection waits before it is parked; `None`: never.
    park_after: Option<Duration>,
    /// The request count when parking was last tried: once per idle spell.
    park_tried: Option<u64>,
}

impl Watch {
    fn new(limits: ConnLimits, park_after: Option<Duration>) -> Watch {
        // Ticks at half of send_timeout bound the wait that cuts a client off to 1-1.5 times it.
        let tick_every = (limits.send_timeout / 2).max(Duration::from_millis(10));
        Watch {
            limits,
            tick_every,
            next_tick: Instant::now() + tick_every,
            going_away: None,
            draining: false,
            park_after,
            park_tried: None,
        }
    }

    /// When this idle spell's parking is due, if it is still to be tried.
    fn park_due(&self, state: &ConnState) -> Option<Instant> {
        let begun = state.begun();
        let idle = begun > 0 && state.is_idle() && self.going_away.is_none() && !self.draining;
        match self.park_after {
            Some(after) if idle && self.park_tried != Some(begun) => {
                Some(state.idle_since() + after)
            }
            _ => None,
        }
    }

    fn next_wake(&self, state: &ConnState, now: Instant) -> Instant {
        // Requests may begin and end while the driver sleeps, unseen: waking at least every half
        // idle_timeout finds the idle deadline of the last one in time.
        let mut wake = self.next_tick.min(now + self.limits.idle_timeout / 2);
        if let Some(since) = self.going_away {
            // Once the grace has passed, the next look comes with the regular tick: a deadline
            // already past would wake the driver again at once, for as long as a request lasts.
            let grace_ends = since + CLOSE_GRACE;
            wake = if now < grace_ends {
                wake.min(grace_ends)
            } else {
                wake.min(grace_ends + self.limits.idle_timeout)
            };
        } else if !self.draining {
            if state.begun.load(Ordering::Relaxed) == 0 {
                wake = wake.min(state.opened + self.limits.header_timeout);
            } else if state.active.load(Ordering::Relaxed) == 0 {
                wake = wake.min(state.idle_since() + self.limits.idle_timeout);
            }
        }
        if let Some(due) = self.park_due(state) {
            wake = wake.min(due);
        }
        wake
    }

    fn check(&mut self, state: &ConnState, now: Instant) -> Verdict {
        if now >= self.next_tick {
            let tick = state.tick.load(Ordering::Relaxed);
            // The slot of two ticks ago, about to be reused for the next tick.
            if state.waiting[(tick + 1) % SLOTS].load(Ordering::Relaxed) > 0 {
                return Verdict::Cut("a response waited longer than send_timeout for the client");
            }
            state.tick.store(tick.wrapping_add(1), Ordering::Relaxed);
            self.next_tick = now + self.tick_every;
        }
        let idle = state.active.load(Ordering::Relaxed) == 0;
        if let Some(since) = self.going_away {
            // A request that raced the GOAWAY may finish, within idle_timeout: a client that never
            // answers the GOAWAY's PING could otherwise keep opening streams and never be idle.
            let grace_ends = since + CLOSE_GRACE;
            let outstayed = now >= grace_ends + self.limits.idle_timeout;
            return if (idle && now >= grace_ends) || outstayed {
                Verdict::Cut("did not close after GOAWAY")
            } else {
                Verdict::Go
            };
        }
        if self.draining {
            return Verdict::Go;
        }
        if self.park_due(state).is_some_and(|due| now >= due) {
            self.park_tried = Some(state.begun());
            return Verdict::Park;
        }
        if state.begun.load(Ordering::Relaxed) == 0 {
            if now >= state.opened + self.limits.header_timeout {
                return Verdict::GoAway("no request within header_timeout");
            }
        } else if idle && now >= state.idle_since() + self.limits.idle_timeout {
            return Verdict::GoAway("idle for idle_timeout");
        }
        Verdict::Go
    }
}

/// The connection's own progress, as the driver sees it.
struct Progress<'a, C> {
    connection: Pin<&'a mut C>,
    state: &'a ConnState,
    /// Report the moment no request is left in flight.
    notice_idle: bool,
}

enum Progressed<R> {
    Ended(R),
    TurnedIdle,
}

impl<C: Future> Future for Progress<'_, C> {
    type Output = Progressed<C::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(result) = self.connection.as_mut().poll(cx) {
            return Poll::Ready(Progressed::Ended(result));
        }
        if self.notice_idle && self.state.begun() > 0 && self.state.is_idle() {
            return Poll::Ready(Progressed::TurnedIdle);
        }
        Poll::Pending
    }
}

/// How a connection is driven beyond its limits: how hyper is asked to close it, and, for one
/// that can be parked (HTTP/1), how to park it once idle for `park_after`.
pub struct Handles<C> {
    pub go_away: fn(Pin<&mut C>),
    /// After how long idle, and how: parks the connection if it can be parked now (says whether
    /// it did).
    pub park: Option<(Duration, Parker<C>)>,
}

pub type Parker<C> = fn(Pin<&mut C>) -> bool;

/// Drives `connection` to its end under `limits`: GOAWAY when it is idle or never sends a first
/// request, a cut (`None`) when a response waits on the client past `send_timeout`, a graceful
/// close when `drain` turns true, and parking once idle when `handles` can park.
pub async fn drive<C, T, E>(
    connection: C,
    handles: Handles<C>,
    state: Arc<ConnState>,
    limits: ConnLimits,
    mut drain: tokio::sync::watch::Receiver<bool>,
) -> Result<Option<T>, E>
where
    C: Future<Output = Result<T, E>>,
{
    tokio::pin!(connection);
    let go_away = handles.go_away;
    let mut watch = Watch::new(limits, handles.park.map(|(after, _)| after));
    loop {
        let wake = watch.next_wake(&state, Instant::now());
        // A connection that can be parked tells the driver when it turns idle, so that the wake
        // above is set again from the end of its last request.
        let notice_idle = handles.park.is_some() && !(state.begun() > 0 && state.is_idle());
        let progress = Progress {
            connection: connection.as_mut(),
            state: &state,
            notice_idle,
        };
        tokio::select! {
            biased;
            progressed = progress => match progressed {
                Progressed::Ended(result) => return result.map(Some),
                Progressed::TurnedIdle => {}
            },
            changed = drain.changed(), if !watch.draining => {
                watch.draining = true;
                if changed.is_ok() {
                    go_away(connection.as_mut());
                }
            }
            () = tokio::time::sleep_until(wake) => match watch.check(&state, Instant::now()) {
                Verdict::Go => {}
                Verdict::GoAway(why) => {
                    tracing::debug!(why, "closing the connection");
                    watch.going_away = Some(Instant::now());
                    go_away(connection.as_mut());
                }
                Verdict::Cut(why) => {
                    tracing::debug!(why, "cutting the connection off");
                    return Ok(None);
                }
                Verdict::Park => {
                    if let Some((_, park)) = handles.park {
                        park(connection.as_mut());
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnLimits {
        ConnLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(10),
        }
    }

    /// A request that raced the GOAWAY outlives the close grace: the driver must not be told to
    /// wake at a moment already past, or it spins for as long as the request lasts.
    #[test]
    fn after_the_close_grace_a_racing_request_does_not_make_the_driver_spin() {
        let state = ConnState::new();
        let _racing = state.begin();
        let mut watch = Watch::new(limits(), None);
        let sent = Instant::now();
        watch.going_away = Some(sent);
        let later = sent + CLOSE_GRACE + Duration::from_secs(3);
        assert!(matches!(watch.check(&state, later), Verdict::Go));
        assert!(watch.next_wake(&state, later) > later);
    }

    /// A client that never answers the GOAWAY's PING could keep a request in flight forever.
    #[test]
    fn a_connection_still_busy_long_after_goaway_is_cut() {
        let state = ConnState::new();
        let _racing = state.begin();
        let mut watch = Watch::new(limits(), None);
        let sent = Instant::now();
        watch.going_away = Some(sent);
        let late = sent + CLOSE_GRACE + limits().idle_timeout;
        // Keep the send-timeout tick out of the way.
        watch.next_tick = late + Duration::from_secs(60);
        assert!(matches!(watch.check(&state, late), Verdict::Cut(_)));
    }
}
