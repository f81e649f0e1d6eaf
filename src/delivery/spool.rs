//! The spool interface: what a queued delivery is, its id, its states, and the operations every
//! backend (the embedded disk store, or Redis shared by replicas) offers the dispatcher and the
//! admin API.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

/// hookguard's own id for a spooled delivery: 48 bits of milliseconds since the epoch and a
/// 16-bit counter (so ids sort by time of receipt), then 32 random bits (so replicas sharing a
/// store do not collide), as 24 lowercase hex digits. Fixed width keeps string order = time order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeliveryId(String);

impl DeliveryId {
    pub const LEN: usize = 24;

    /// `time_and_counter` is `ms << 16 | counter`; the caller keeps it strictly increasing.
    pub fn new(time_and_counter: u64, random: u32) -> Self {
        DeliveryId(format!("{time_and_counter:016x}{random:08x}"))
    }

    /// An id as rendered by [`DeliveryId::new`], or None.
    pub fn parse(text: &str) -> Option<Self> {
        let well_formed = text.len() == Self::LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| DeliveryId(text.to_owned()))
    }

    /// The `ms << 16 | counter` part, to resume a strictly increasing sequence after a restart.
    pub fn time_and_counter(&self) -> u64 {
        u64::from_str_radix(&self.0[..16], 16).unwrap_or(0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The random part, which tells apart ids that replicas made in the same millisecond.
    pub fn random(&self) -> u32 {
        u32::from_str_radix(&self.0[16..], 16).unwrap_or(0)
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A verified request as it arrived, to be spooled for a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub method: String,
    pub path_and_query: String,
    /// The headers to forward, in order, as raw bytes (values need not be UTF-8).
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Bytes,
    /// When it arrived; its first attempt is due then.
    pub received_at: SystemTime,
    /// The event type, for dead-letter listings; None where the scheme names none.
    pub event: Option<String>,
    /// The provider's own delivery id, for dead-letter listings; None where unknown.
    pub provider_delivery: Option<String>,
}

/// What a delivery is and never stops being, as both stores keep it (encoded once, at enqueue).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct RequestRecord {
    pub method: String,
    pub path_and_query: String,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub event: Option<String>,
    pub provider_delivery: Option<String>,
}

impl RequestRecord {
    /// The record and the body of a new delivery.
    pub fn split(delivery: NewDelivery) -> (Self, Bytes) {
        let record = RequestRecord {
            method: delivery.method,
            path_and_query: delivery.path_and_query,
            headers: delivery.headers,
            event: delivery.event,
            provider_delivery: delivery.provider_delivery,
        };
        (record, delivery.body)
    }
}

/// A spooled delivery in full, as [`Spool::take`] hands it to an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub route: String,
    pub method: String,
    pub path_and_query: String,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Bytes,
    pub received_at: SystemTime,
    /// Where `max_age` counts from: receipt, or the last replay.
    pub age_from: SystemTime,
    /// Attempts already finished without delivering; the attempt being started is `attempt + 1`.
    pub attempt: u32,
    pub next_due: SystemTime,
    pub event: Option<String>,
}

/// How an attempt that did not deliver ended, kept so a dead letter can say why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptEnd {
    /// The app's status, or None when it never answered.
    pub status: Option<u16>,
    /// A short, secret-free description: "status 500", "timed out", "connection refused".
    pub error: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DeadReason {
    /// The app refused it with a status that a retry would not change.
    Rejected,
    /// It outlived the route's `max_age`.
    Expired,
}

impl DeadReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadReason::Rejected => "rejected",
            DeadReason::Expired => "expired",
        }
    }
}

/// A dead letter as listed for operators: everything but the headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: DeliveryId,
    pub route: String,
    pub method: String,
    pub path_and_query: String,
    pub received_at: SystemTime,
    pub attempts: u32,
    pub reason: DeadReason,
    pub dead_at: SystemTime,
    /// How the last attempt ended; None when none was made.
    pub last: Option<AttemptEnd>,
    pub event: Option<String>,
    pub provider_delivery: Option<String>,
    /// The bytes it holds in the spool, body included.
    pub size: u64,
}

/// The figures behind the spool metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpoolCounts {
    pub routes: BTreeMap<String, RouteCounts>,
    /// Bytes held, bodies and records, as counted against `max_bytes`.
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteCounts {
    pub pending: u64,
    pub in_flight: u64,
    pub dead: u64,
    /// How long the oldest pending delivery has waited since receipt; zero when none is pending.
    pub oldest_pending_age: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpoolError {
    /// Taking it would pass `max_bytes`; nothing was written.
    #[error("spool full")]
    Full,
    /// No delivery with this id is in the state the operation needs.
    #[error("no {expected} delivery {id}")]
    NotFound {
        id: DeliveryId,
        expected: &'static str,
    },
    /// The store failed; nothing in the failed batch was written.
    #[error("spool store: {0}")]
    Storage(String),
    /// The store was closed.
    #[error("spool closed")]
    Closed,
}

/// One delivery's life: `enqueue` -> pending -> `claim` -> in flight -> `delivered` (gone), or
/// `retry` (pending again, attempt + 1), or `dead` (a dead letter, until `replay` or `drop_dead`).
/// Every change is durable when its future resolves Ok.
pub trait Spool: Send + Sync {
    /// Stores a delivery for `route`; durable (fsync'd, or in an AOF) when it returns Ok.
    fn enqueue(
        &self,
        route: &str,
        delivery: NewDelivery,
    ) -> impl Future<Output = Result<DeliveryId, SpoolError>> + Send;

    /// Takes up to `limit` pending deliveries of `route` due at or before `now`, soonest due
    /// first, marks them in flight for this process and reads them back, bodies included. A
    /// shared store also takes back deliveries another process has held in flight for longer
    /// than `stale_after` (it died); a store only this process opens recovers those on open.
    fn claim(
        &self,
        route: &str,
        now: SystemTime,
        limit: usize,
        stale_after: Duration,
    ) -> impl Future<Output = Result<Vec<Delivery>, SpoolError>> + Send;

    /// The app took an in-flight delivery: removes it.
    fn delivered(&self, id: &DeliveryId) -> impl Future<Output = Result<(), SpoolError>> + Send;

    /// An in-flight attempt failed: pending again, due at `next_due`, with attempt + 1.
    fn retry(
        &self,
        id: &DeliveryId,
        next_due: SystemTime,
        last: AttemptEnd,
    ) -> impl Future<Output = Result<(), SpoolError>> + Send;

    /// Moves a pending or in-flight delivery to the dead letters. From in flight, the attempt
    /// that ended counts in `attempts` and `last` replaces how the previous one ended.
    fn dead(
        &self,
        id: &DeliveryId,
        reason: DeadReason,
        last: Option<AttemptEnd>,
    ) -> impl Future<Output = Result<(), SpoolError>> + Send;

    /// Up to `limit` dead letters, of `route` or of every route, oldest received first.
    fn dead_letters(
        &self,
        route: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DeadLetter>, SpoolError>> + Send;

    /// A dead letter becomes pending again, due now, as if new: its attempts count from zero
    /// and `max_age` from now.
    fn replay(&self, id: &DeliveryId) -> impl Future<Output = Result<(), SpoolError>> + Send;

    /// Replays every dead letter of `route`; returns how many.
    fn replay_route(&self, route: &str) -> impl Future<Output = Result<u64, SpoolError>> + Send;

    /// Removes a dead letter for good.
    fn drop_dead(&self, id: &DeliveryId) -> impl Future<Output = Result<(), SpoolError>> + Send;

    /// Removes every dead letter that died before `before`; returns how many.
    fn purge_dead(
        &self,
        before: SystemTime,
    ) -> impl Future<Output = Result<u64, SpoolError>> + Send;

    /// Counts per route and bytes held, for metrics and `/api/spool`.
    fn counts(
        &self,
        now: SystemTime,
    ) -> impl Future<Output = Result<SpoolCounts, SpoolError>> + Send;
}

/// Milliseconds since the epoch, the unit every backend stores times in.
pub fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub fn from_unix_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}
