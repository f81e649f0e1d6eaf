//! The embedded spool: one redb database file in the spool directory. A single writer thread
//! (`writer`) group-commits every change that queued up during the previous commit in one
//! transaction with one fsync (none when only the dispatcher's own changes are in it); reads run
//! on tokio's blocking pool beside it (redb readers never wait on the writer).
//!
//! A delivery is kept as three records under its id (a `u128`): what never changes (`FIXED`,
//! encoded once by the caller), its body (`BODIES`), and the small status the dispatcher moves
//! along (`STATUS`), so a claim or a `delivered` never re-encodes headers. Three indexes order
//! them: pending by due time (`DUE`), pending by receipt (`WAITING`, for the oldest pending
//! age) and dead letters by route (`DEAD`). The counts per route are kept by the writer as it
//! commits, so the metrics never scan the spool.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use redb::{Database, Durability, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::spool::{
    unix_ms, AttemptEnd, DeadLetter, DeadReason, Delivery, DeliveryId, NewDelivery, Spool,
    SpoolCounts, SpoolError,
};

/// The file inside the spool directory.
pub const FILE_NAME: &str = "spool.redb";

/// id -> the postcard-encoded [`Fixed`] part.
const FIXED: TableDefinition<u128, &[u8]> = TableDefinition::new("fixed");
/// id -> body, kept apart so listing and scheduling never read a body.
const BODIES: TableDefinition<u128, &[u8]> = TableDefinition::new("bodies");
/// id -> the postcard-encoded [`Status`].
const STATUS: TableDefinition<u128, &[u8]> = TableDefinition::new("status");
/// (route, due ms, id), for pending deliveries only: the order they are claimed in.
const DUE: TableDefinition<(&str, u64, u128), ()> = TableDefinition::new("due");
/// (route, received ms, id), for pending deliveries only: the oldest one waiting.
const WAITING: TableDefinition<(&str, u64, u128), ()> = TableDefinition::new("waiting");
/// (route, id), for dead letters only.
const DEAD: TableDefinition<(&str, u128), ()> = TableDefinition::new("dead");

/// At most this many changes go in one transaction, so one commit stays short.
const MAX_BATCH: usize = 4096;
/// Bytes a record is charged beyond its variable fields, so `max_bytes` also bounds tiny bodies.
const RECORD_OVERHEAD: u64 = 64;

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
enum State {
    Pending { due_ms: u64 },
    InFlight { due_ms: u64 },
    Dead { reason: DeadReason, at_ms: u64 },
}

/// What a delivery is and never stops being.
#[derive(Debug, Serialize, Deserialize)]
struct Fixed {
    method: String,
    path_and_query: String,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    event: Option<String>,
    provider_delivery: Option<String>,
}

/// Where a delivery stands: all the dispatcher reads and writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Status {
    route: String,
    state: State,
    attempt: u32,
    received_at_ms: u64,
    age_from_ms: u64,
    size: u64,
    last_status: Option<u16>,
    last_error: Option<String>,
}

impl Status {
    fn remember(&mut self, last: AttemptEnd) {
        self.last_status = last.status;
        self.last_error = Some(last.error);
    }

    fn last(&self) -> Option<AttemptEnd> {
        self.last_error.as_ref().map(|error| AttemptEnd {
            status: self.last_status,
            error: error.clone(),
        })
    }
}

/// Deliveries per route and state, and the bytes held: the writer keeps them as it commits.
#[derive(Debug, Clone, Default)]
struct Tally {
    routes: BTreeMap<String, [u64; 3]>,
    bytes: u64,
}

const PENDING: usize = 0;
const IN_FLIGHT: usize = 1;
const DEAD_LETTERS: usize = 2;

impl Tally {
    fn slot(state: &State) -> usize {
        match state {
            State::Pending { .. } => PENDING,
            State::InFlight { .. } => IN_FLIGHT,
            State::Dead { .. } => DEAD_LETTERS,
        }
    }

    fn add(&mut self, route: &str, state: &State) {
        let counts = self.routes.entry(route.to_owned()).or_default();
        counts[Self::slot(state)] += 1;
    }

    fn remove(&mut self, route: &str, state: &State) {
        if let Some(counts) = self.routes.get_mut(route) {
            let slot = &mut counts[Self::slot(state)];
            *slot = slot.saturating_sub(1);
        }
    }

    fn moved(&mut self, route: &str, from: &State, to: &State) {
        self.remove(route, from);
        self.add(route, to);
    }
}

/// A store failure: the batch it happened in is abandoned whole.
#[derive(Debug)]
struct Fault(String);

macro_rules! fault_from {
    ($($error:ty),*) => {$(
        impl From<$error> for Fault {
            fn from(error: $error) -> Self {
                Fault(error.to_string())
            }
        }
    )*};
}
fault_from!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    postcard::Error,
    std::io::Error
);

impl From<Fault> for SpoolError {
    fn from(fault: Fault) -> Self {
        SpoolError::Storage(fault.0)
    }
}

type Stored<T> = Result<T, Fault>;

/// A new delivery, already encoded.
struct Enqueue {
    route: String,
    fixed: Vec<u8>,
    body: Bytes,
    received_at_ms: u64,
    size: u64,
}

enum Op {
    Enqueue(Enqueue),
    Claim {
        route: String,
        now_ms: u64,
        limit: usize,
    },
    Delivered(DeliveryId),
    Retry(DeliveryId, u64, AttemptEnd),
    Dead(DeliveryId, DeadReason, Option<AttemptEnd>),
    Replay(DeliveryId),
    ReplayRoute(String),
    DropDead(DeliveryId),
    Purge {
        before_ms: u64,
    },
}

impl Op {
    /// Whether the commit must reach the disk before anyone hears of it. An enqueue must (the
    /// sender hears 200), and so must an operator's change. The dispatcher's own changes need
    /// not: a crash that loses a claim, a retry or a dead letter leaves the delivery pending or
    /// in flight, which the next open turns into pending, so it is attempted again; one that
    /// loses a `delivered` can deliver twice, which at-least-once allows. This keeps the disk's
    /// fsyncs for the senders.
    fn must_be_durable(&self) -> bool {
        match self {
            Op::Enqueue(..)
            | Op::Replay(_)
            | Op::ReplayRoute(_)
            | Op::DropDead(_)
            | Op::Purge { .. } => true,
            Op::Claim { .. } | Op::Delivered(_) | Op::Retry(..) | Op::Dead(..) => false,
        }
    }
}

enum Output {
    Id(DeliveryId),
    Deliveries(Vec<Delivery>),
    Count(u64),
    Done,
}

type Answer = Result<Output, SpoolError>;

enum Message {
    Change(Op, oneshot::Sender<Answer>),
    Close(oneshot::Sender<()>),
}

/// The embedded [`Spool`].
pub struct DiskSpool {
    db: Arc<Database>,
    writer: mpsc::Sender<Message>,
    commits: Arc<AtomicU64>,
    /// The counts as of the last commit, kept by the writer so counting never scans.
    tally: Arc<Mutex<Tally>>,
}

impl DiskSpool {
    /// Opens (or creates) the spool in `dir`; deliveries a crash left in flight become pending.
    pub async fn open(dir: &Path, max_bytes: u64) -> Result<Self, SpoolError> {
        let dir = dir.to_path_buf();
        let opened = tokio::task::spawn_blocking(move || open_blocking(&dir))
            .await
            .map_err(|e| SpoolError::Storage(e.to_string()))??;
        let (db, tally, last_id) = opened;
        let db = Arc::new(db);
        let commits = Arc::new(AtomicU64::new(0));
        let published = Arc::new(Mutex::new(tally.clone()));
        let (sender, receiver) = mpsc::channel();
        let writer = Writer::new(
            Arc::clone(&db),
            Arc::clone(&commits),
            Arc::clone(&published),
            tally,
            max_bytes,
            last_id,
        );
        std::thread::Builder::new()
            .name("spool-writer".into())
            .spawn(move || writer.run(&receiver))
            .map_err(|e| SpoolError::Storage(e.to_string()))?;
        Ok(DiskSpool {
            db,
            writer: sender,
            commits,
            tally: published,
        })
    }

    /// How many transactions the writer has committed since open.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Finishes the changes already sent, makes them all durable, and stops the writer; every
    /// later change answers `Closed`. Dropping every handle then closes the file.
    pub async fn close(&self) {
        let (ack, acked) = oneshot::channel();
        if self.writer.send(Message::Close(ack)).is_ok() {
            let _ = acked.await;
        }
    }

    async fn change(&self, op: Op) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Message::Change(op, reply))
            .map_err(|_| SpoolError::Closed)?;
        answer.await.map_err(|_| SpoolError::Closed)?
    }

    async fn done(&self, op: Op) -> Result<(), SpoolError> {
        self.change(op).await.map(|_| ())
    }

    async fn count(&self, op: Op) -> Result<u64, SpoolError> {
        match self.change(op).await? {
            Output::Count(n) => Ok(n),
            _ => Err(unexpected_output()),
        }
    }

    async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Database) -> Stored<T> + Send + 'static,
    ) -> Result<T, SpoolError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || query(&db))
            .await
            .map_err(|e| SpoolError::Storage(e.to_string()))?
            .map_err(SpoolError::from)
    }
}

fn unexpected_output() -> SpoolError {
    SpoolError::Storage("the spool writer answered out of kind".into())
}

impl Spool for DiskSpool {
    async fn enqueue(&self, route: &str, delivery: NewDelivery) -> Result<DeliveryId, SpoolError> {
        // Encoded here, on the caller's thread, so the one writer thread only stores bytes.
        let size = charged_size(route, &delivery);
        let received_at_ms = unix_ms(delivery.received_at);
        let fixed = Fixed {
            method: delivery.method,
            path_and_query: delivery.path_and_query,
            headers: delivery.headers,
            event: delivery.event,
            provider_delivery: delivery.provider_delivery,
        };
        let op = Op::Enqueue(Enqueue {
            route: route.to_owned(),
            fixed: postcard::to_allocvec(&fixed).map_err(|e| SpoolError::Storage(e.to_string()))?,
            body: delivery.body,
            received_at_ms,
            size,
        });
        match self.change(op).await? {
            Output::Id(id) => Ok(id),
            _ => Err(unexpected_output()),
        }
    }

    /// No other process opens this file, so `stale_after` has nothing to reclaim: deliveries a
    /// crash left in flight became pending when the file was opened.
    async fn claim(
        &self,
        route: &str,
        now: SystemTime,
        limit: usize,
        _stale_after: Duration,
    ) -> Result<Vec<Delivery>, SpoolError> {
        // The dispatcher asks often; a read first spares a commit (and its fsync) when none is due.
        let (owned_route, now_ms) = (route.to_owned(), unix_ms(now));
        if !self
            .read(move |db| any_due(db, &owned_route, now_ms))
            .await?
        {
            return Ok(Vec::new());
        }
        let op = Op::Claim {
            route: route.to_owned(),
            now_ms: unix_ms(now),
            limit,
        };
        match self.change(op).await? {
            Output::Deliveries(deliveries) => Ok(deliveries),
            _ => Err(unexpected_output()),
        }
    }

    async fn delivered(&self, id: &DeliveryId) -> Result<(), SpoolError> {
        self.done(Op::Delivered(id.clone())).await
    }

    async fn retry(
        &self,
        id: &DeliveryId,
        next_due: SystemTime,
        last: AttemptEnd,
    ) -> Result<(), SpoolError> {
        self.done(Op::Retry(id.clone(), unix_ms(next_due), last))
            .await
    }

    async fn dead(
        &self,
        id: &DeliveryId,
        reason: DeadReason,
        last: Option<AttemptEnd>,
    ) -> Result<(), SpoolError> {
        self.done(Op::Dead(id.clone(), reason, last)).await
    }

    async fn dead_letters(
        &self,
        route: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, SpoolError> {
        let route = route.map(str::to_owned);
        self.read(move |db| read_dead_letters(db, route.as_deref(), limit))
            .await
    }

    async fn replay(&self, id: &DeliveryId) -> Result<(), SpoolError> {
        self.done(Op::Replay(id.clone())).await
    }

    async fn replay_route(&self, route: &str) -> Result<u64, SpoolError> {
        self.count(Op::ReplayRoute(route.to_owned())).await
    }

    async fn drop_dead(&self, id: &DeliveryId) -> Result<(), SpoolError> {
        self.done(Op::DropDead(id.clone())).await
    }

    async fn purge_dead(&self, before: SystemTime) -> Result<u64, SpoolError> {
        let before_ms = unix_ms(before);
        self.count(Op::Purge { before_ms }).await
    }

    async fn counts(&self, now: SystemTime) -> Result<SpoolCounts, SpoolError> {
        let tally = self
            .tally
            .lock()
            .map_err(|_| SpoolError::Storage("spool counts poisoned".into()))?
            .clone();
        let now_ms = unix_ms(now);
        self.read(move |db| read_counts(db, tally, now_ms)).await
    }
}

/// Opens the file, creates the tables, and puts every in-flight delivery back to pending.
/// Returns the database, the counts and the last id's time-and-counter.
fn open_blocking(dir: &Path) -> Stored<(Database, Tally, u64)> {
    std::fs::create_dir_all(dir)?;
    let db = Database::create(dir.join(FILE_NAME))?;
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate);
    let opened = {
        let mut status = txn.open_table(STATUS)?;
        let fixed = txn.open_table(FIXED)?;
        txn.open_table(BODIES)?;
        let mut due = txn.open_table(DUE)?;
        let mut waiting = txn.open_table(WAITING)?;
        txn.open_table(DEAD)?;
        let mut tally = Tally::default();
        let mut in_flight = Vec::new();
        for entry in status.iter()? {
            let (id, encoded) = entry?;
            let mut record: Status = postcard::from_bytes(encoded.value())?;
            tally.bytes = tally.bytes.saturating_add(record.size);
            if let State::InFlight { due_ms } = record.state {
                record.state = State::Pending { due_ms };
                in_flight.push((id.value(), record.clone()));
            }
            tally.add(&record.route, &record.state);
        }
        for (id, record) in in_flight {
            status.insert(id, postcard::to_allocvec(&record)?.as_slice())?;
            if let State::Pending { due_ms } = record.state {
                due.insert((record.route.as_str(), due_ms, id), ())?;
            }
            waiting.insert((record.route.as_str(), record.received_at_ms, id), ())?;
        }
        let last_id = fixed.last()?.map_or(0, |(id, _)| {
            DeliveryId::from_u128(id.value()).time_and_counter()
        });
        (tally, last_id)
    };
    txn.commit()?;
    Ok((db, opened.0, opened.1))
}

/// The bytes a delivery is charged against `max_bytes`: its variable fields plus a fixed overhead.
pub(super) fn charged_size(route: &str, delivery: &NewDelivery) -> u64 {
    let headers: usize = delivery
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum();
    let variable = route.len()
        + delivery.method.len()
        + delivery.path_and_query.len()
        + headers
        + delivery.body.len();
    u64::try_from(variable)
        .unwrap_or(u64::MAX)
        .saturating_add(RECORD_OVERHEAD)
}

/// Random bits without a dependency: std's hasher keys are seeded from the OS per instance.
pub(super) fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (bits >> 32) as u32
}

mod read;
mod writer;

use read::{any_due, read_counts, read_dead_letters};
use writer::Writer;

#[cfg(test)]
mod tests;
