//! The embedded spool: one SQLite database in WAL mode in the spool directory. A single writer
//! thread commits every change that queued up during the previous commit in one transaction,
//! with an fsync of the log when any change in it must be durable (an enqueue, an operator's
//! replay or drop) and none when only the dispatcher's own changes are in it. Reads go through a
//! second connection on tokio's blocking pool, which WAL lets run beside the writer.
//!
//! Why SQLite: it was the fastest of the embedded stores tried here. redb, measured first with
//! the same interface, spent about 45 us of CPU per 1 KiB enqueue in its copy-on-write trees, and
//! its commits cost about 170 us even without an fsync, so one writer thread capped the queue at
//! a third of direct mode. SQLite appends pages to its write-ahead log instead.
//!
//! A delivery is one row keyed by its id's time-and-counter, so rows sit in receipt order. Three
//! partial indexes order them: pending by due time (the claim order), pending by receipt (the
//! oldest waiting) and dead letters by route. The counts per route are kept by the writer as it
//! commits, so the metrics never scan the spool.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::spool::{
    unix_ms, AttemptEnd, DeadLetter, DeadReason, Delivery, DeliveryId, NewDelivery, RequestRecord,
    Spool, SpoolCounts, SpoolError,
};

/// The file inside the spool directory (SQLite adds `-wal` and `-shm` beside it).
pub const FILE_NAME: &str = "spool.sqlite";

/// At most this many changes go in one transaction, so one commit stays short.
const MAX_BATCH: usize = 4096;
/// Bytes a record is charged beyond its variable fields, so `max_bytes` also bounds tiny bodies.
const RECORD_OVERHEAD: u64 = 64;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS deliveries (
        seq INTEGER PRIMARY KEY,        -- the id's time-and-counter: unique here, receipt order
        salt INTEGER NOT NULL,          -- the id's random part
        route TEXT NOT NULL,
        state INTEGER NOT NULL,         -- 0 pending, 1 in flight, 2 dead
        due_ms INTEGER NOT NULL,
        received_ms INTEGER NOT NULL,
        age_from_ms INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        size INTEGER NOT NULL,
        last_status INTEGER,
        last_error TEXT,
        dead_reason INTEGER,
        dead_ms INTEGER,
        fixed BLOB NOT NULL,            -- postcard: method, path and query, headers, event, id
        body BLOB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS pending_by_due ON deliveries (route, due_ms, seq) WHERE state = 0;
    CREATE INDEX IF NOT EXISTS pending_by_receipt ON deliveries (route, seq) WHERE state = 0;
    CREATE INDEX IF NOT EXISTS dead_by_route ON deliveries (route, seq) WHERE state = 2;
";

const PENDING: i64 = 0;
const IN_FLIGHT: i64 = 1;
const DEAD: i64 = 2;

fn reason_code(reason: DeadReason) -> i64 {
    match reason {
        DeadReason::Rejected => 0,
        DeadReason::Expired => 1,
    }
}

fn reason_of(code: i64) -> DeadReason {
    if code == 0 {
        DeadReason::Rejected
    } else {
        DeadReason::Expired
    }
}

/// SQLite stores integers as i64; ours are far below its limit, and clamped if not.
fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn uint(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Deliveries per route and state, and the bytes held: the writer keeps them as it commits.
#[derive(Debug, Clone, Default)]
struct Tally {
    /// Indexed by state: pending, in flight, dead.
    routes: BTreeMap<String, [u64; 3]>,
    bytes: u64,
}

impl Tally {
    fn slot(state: i64) -> usize {
        usize::try_from(state).unwrap_or(0).min(2)
    }

    fn add(&mut self, route: &str, state: i64) {
        let counts = self.routes.entry(route.to_owned()).or_default();
        counts[Self::slot(state)] += 1;
    }

    fn remove(&mut self, route: &str, state: i64) {
        if let Some(counts) = self.routes.get_mut(route) {
            let slot = &mut counts[Self::slot(state)];
            *slot = slot.saturating_sub(1);
        }
    }

    fn moved(&mut self, route: &str, from: i64, to: i64) {
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
fault_from!(rusqlite::Error, postcard::Error, std::io::Error);

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
    /// A connection of its own for reads, which WAL lets run beside the writer's.
    reader: Arc<Mutex<Connection>>,
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
        let (writer_connection, reader, tally, last_id) = opened;
        let commits = Arc::new(AtomicU64::new(0));
        let published = Arc::new(Mutex::new(tally.clone()));
        let (sender, receiver) = mpsc::channel();
        let writer = Writer::new(
            writer_connection,
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
            reader: Arc::new(Mutex::new(reader)),
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
        query: impl FnOnce(&Connection) -> Stored<T> + Send + 'static,
    ) -> Result<T, SpoolError> {
        let reader = Arc::clone(&self.reader);
        tokio::task::spawn_blocking(move || {
            let connection = reader
                .lock()
                .map_err(|_| Fault("the spool's read connection is poisoned".into()))?;
            query(&connection)
        })
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
        let (fixed, body) = RequestRecord::split(delivery);
        let op = Op::Enqueue(Enqueue {
            route: route.to_owned(),
            fixed: postcard::to_allocvec(&fixed).map_err(|e| SpoolError::Storage(e.to_string()))?,
            body,
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
        // A claim that finds nothing due changes nothing, so its commit writes nothing.
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

/// Opens (or creates) the database, puts every in-flight delivery back to pending, and counts
/// what is there. Returns the writer's connection, the reader's, the counts and the last id.
fn open_blocking(dir: &Path) -> Stored<(Connection, Connection, Tally, u64)> {
    create_private_dir(dir)?;
    let path = dir.join(FILE_NAME);
    let writer = Connection::open(&path)?;
    keep_private(&path);
    // WAL: commits append to the log, and readers never wait for the writer.
    writer.pragma_update(None, "journal_mode", "WAL")?;
    writer.pragma_update(None, "synchronous", "FULL")?;
    writer.execute_batch(SCHEMA)?;
    writer.execute(
        "UPDATE deliveries SET state = ?1 WHERE state = ?2",
        (PENDING, IN_FLIGHT),
    )?;
    let mut tally = Tally::default();
    {
        let mut counted = writer.prepare(
            "SELECT route, state, COUNT(*), SUM(size) FROM deliveries GROUP BY route, state",
        )?;
        let mut rows = counted.query(())?;
        while let Some(row) = rows.next()? {
            let route: String = row.get(0)?;
            let state: i64 = row.get(1)?;
            let count: i64 = row.get(2)?;
            let bytes: i64 = row.get(3)?;
            tally.routes.entry(route).or_default()[Tally::slot(state)] = uint(count);
            tally.bytes = tally.bytes.saturating_add(uint(bytes));
        }
    }
    let last_id: i64 =
        writer.query_row("SELECT COALESCE(MAX(seq), 0) FROM deliveries", (), |row| {
            row.get(0)
        })?;
    let reader = Connection::open_with_flags(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    Ok((writer, reader, tally, uint(last_id)))
}

/// The spool holds bodies and signed headers: a directory hookguard creates is its own alone.
/// One that exists already (a mounted volume) keeps the permissions its owner gave it.
fn create_private_dir(dir: &Path) -> Stored<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    Ok(())
}

/// The database readable by hookguard alone; SQLite gives its log and index files the same mode.
fn keep_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Err(error) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        tracing::warn!(%error, "cannot make the spool file private");
    }
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

use read::{read_counts, read_dead_letters};
use writer::Writer;

#[cfg(test)]
mod tests;
