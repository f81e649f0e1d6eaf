//! The embedded spool: one redb database file in the spool directory. A single writer thread
//! group-commits every change that queued up during the previous commit in one transaction with
//! one fsync (none when only the dispatcher's own changes are in it); reads run on tokio's
//! blocking pool beside it (redb readers never wait on the writer).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use redb::{Database, Durability, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::spool::{
    from_unix_ms, unix_ms, AttemptEnd, DeadLetter, DeadReason, Delivery, DeliveryId, NewDelivery,
    RouteCounts, Spool, SpoolCounts, SpoolError,
};

/// The file inside the spool directory.
pub const FILE_NAME: &str = "spool.redb";

/// id -> the postcard-encoded [`Record`] (everything but the body).
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// id -> body, kept apart so listing and scheduling never read a body.
const BODIES: TableDefinition<&str, &[u8]> = TableDefinition::new("bodies");
/// (route, due ms, id) -> attempt, for pending deliveries only: the due order per route.
const DUE: TableDefinition<(&str, u64, &str), u32> = TableDefinition::new("due");
/// (route, id) -> (), for dead letters only.
const DEAD: TableDefinition<(&str, &str), ()> = TableDefinition::new("dead");

/// At most this many changes go in one transaction, so one commit stays short.
const MAX_BATCH: usize = 4096;
/// Bytes a record is charged beyond its variable fields, so `max_bytes` also bounds tiny bodies.
const RECORD_OVERHEAD: u64 = 64;
/// The dispatcher's own changes skip the fsync (see [`Op::must_be_durable`]); at least this
/// often one is made anyway, because redb frees pages only in durable commits.
const MAX_NON_DURABLE_COMMITS: u32 = 256;
const MAX_NON_DURABLE_TIME: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
enum State {
    Pending { due_ms: u64 },
    InFlight { due_ms: u64 },
    Dead { reason: DeadReason, at_ms: u64 },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    route: String,
    method: String,
    path_and_query: String,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    received_at_ms: u64,
    age_from_ms: u64,
    attempt: u32,
    state: State,
    size: u64,
    event: Option<String>,
    provider_delivery: Option<String>,
    last_status: Option<u16>,
    last_error: Option<String>,
}

impl Record {
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

enum Op {
    Enqueue(String, NewDelivery),
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
}

impl DiskSpool {
    /// Opens (or creates) the spool in `dir`; deliveries a crash left in flight become pending.
    pub async fn open(dir: &Path, max_bytes: u64) -> Result<Self, SpoolError> {
        let dir = dir.to_path_buf();
        let opened = tokio::task::spawn_blocking(move || open_blocking(&dir))
            .await
            .map_err(|e| SpoolError::Storage(e.to_string()))??;
        let (db, bytes, last_id) = opened;
        let db = Arc::new(db);
        let commits = Arc::new(AtomicU64::new(0));
        let (sender, receiver) = mpsc::channel();
        let writer = Writer {
            db: Arc::clone(&db),
            commits: Arc::clone(&commits),
            bytes,
            max_bytes,
            last_id,
            non_durable_commits: 0,
            last_durable: std::time::Instant::now(),
        };
        std::thread::Builder::new()
            .name("spool-writer".into())
            .spawn(move || writer.run(&receiver))
            .map_err(|e| SpoolError::Storage(e.to_string()))?;
        Ok(DiskSpool {
            db,
            writer: sender,
            commits,
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
        match self.change(Op::Enqueue(route.to_owned(), delivery)).await? {
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
        let now_ms = unix_ms(now);
        self.read(move |db| read_counts(db, now_ms)).await
    }
}

/// Opens the file, creates the tables, and puts every in-flight delivery back to pending.
/// Returns the database, the bytes held and the last id's time-and-counter.
fn open_blocking(dir: &Path) -> Stored<(Database, u64, u64)> {
    std::fs::create_dir_all(dir)?;
    let db = Database::create(dir.join(FILE_NAME))?;
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate);
    let (bytes, last_id) = {
        let mut meta = txn.open_table(META)?;
        txn.open_table(BODIES)?;
        let mut due = txn.open_table(DUE)?;
        txn.open_table(DEAD)?;
        let mut bytes = 0u64;
        let mut in_flight = Vec::new();
        for entry in meta.iter()? {
            let (id, encoded) = entry?;
            let record: Record = postcard::from_bytes(encoded.value())?;
            bytes = bytes.saturating_add(record.size);
            if let State::InFlight { due_ms } = record.state {
                in_flight.push((id.value().to_owned(), due_ms, record));
            }
        }
        for (id, due_ms, mut record) in in_flight {
            record.state = State::Pending { due_ms };
            meta.insert(id.as_str(), postcard::to_allocvec(&record)?.as_slice())?;
            due.insert((record.route.as_str(), due_ms, id.as_str()), record.attempt)?;
        }
        let last_id = meta
            .last()?
            .and_then(|(id, _)| DeliveryId::parse(id.value()))
            .map_or(0, |id| id.time_and_counter());
        (bytes, last_id)
    };
    txn.commit()?;
    Ok((db, bytes, last_id))
}

/// The only thread that writes: it owns the byte count and the id sequence.
struct Writer {
    db: Arc<Database>,
    commits: Arc<AtomicU64>,
    bytes: u64,
    max_bytes: u64,
    last_id: u64,
    non_durable_commits: u32,
    last_durable: std::time::Instant,
}

impl Writer {
    /// Waits for a change, then commits it with every change that queued up meanwhile.
    fn run(mut self, messages: &mpsc::Receiver<Message>) {
        let mut close_ack = None;
        while close_ack.is_none() {
            let Ok(first) = messages.recv() else { break };
            let mut ops = Vec::new();
            let mut replies = Vec::new();
            for message in std::iter::once(first).chain(messages.try_iter().take(MAX_BATCH)) {
                match message {
                    Message::Change(op, reply) => {
                        ops.push(op);
                        replies.push(reply);
                    }
                    Message::Close(ack) => close_ack = Some(ack),
                }
            }
            if !ops.is_empty() {
                self.commit(ops, replies);
            }
        }
        self.make_durable();
        // The file closes when the last handle goes; drop ours before saying it is closed.
        drop(self);
        if let Some(ack) = close_ack {
            let _ = ack.send(());
        }
    }

    /// An empty durable commit, so the dispatcher's last changes survive a clean stop.
    fn make_durable(&mut self) {
        if self.non_durable_commits == 0 {
            return;
        }
        let committed = self
            .db
            .begin_write()
            .map_err(Fault::from)
            .and_then(|mut txn| {
                txn.set_durability(Durability::Immediate);
                txn.commit().map_err(Fault::from)
            });
        match committed {
            Ok(()) => self.non_durable_commits = 0,
            Err(fault) => tracing::error!(error = %fault.0, "spool: final commit failed"),
        }
    }

    fn commit(&mut self, ops: Vec<Op>, replies: Vec<oneshot::Sender<Answer>>) {
        match self.apply_all(ops) {
            Ok((answers, bytes)) => {
                self.bytes = bytes;
                self.commits.fetch_add(1, Ordering::Relaxed);
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(answer);
                }
            }
            Err(fault) => {
                tracing::error!(error = %fault.0, "spool commit failed");
                for reply in replies {
                    let _ = reply.send(Err(SpoolError::Storage(fault.0.clone())));
                }
            }
        }
    }

    /// One transaction, and one fsync when a change in it must be durable. Returns each change's answer and the bytes held after it.
    fn apply_all(&mut self, ops: Vec<Op>) -> Stored<(Vec<Answer>, u64)> {
        let durable = ops.iter().any(Op::must_be_durable)
            || self.non_durable_commits >= MAX_NON_DURABLE_COMMITS
            || self.last_durable.elapsed() >= MAX_NON_DURABLE_TIME;
        let mut txn = self.db.begin_write()?;
        txn.set_durability(if durable {
            Durability::Immediate
        } else {
            Durability::None
        });
        let mut batch = Batch {
            meta: txn.open_table(META)?,
            bodies: txn.open_table(BODIES)?,
            due: txn.open_table(DUE)?,
            dead: txn.open_table(DEAD)?,
            bytes: self.bytes,
            max_bytes: self.max_bytes,
            last_id: self.last_id,
            now_ms: unix_ms(SystemTime::now()),
        };
        let answers = ops
            .into_iter()
            .map(|op| batch.apply(op))
            .collect::<Stored<Vec<_>>>()?;
        let (bytes, last_id) = (batch.bytes, batch.last_id);
        drop(batch);
        txn.commit()?;
        self.last_id = last_id;
        if durable {
            self.non_durable_commits = 0;
            self.last_durable = std::time::Instant::now();
        } else {
            self.non_durable_commits += 1;
        }
        Ok((answers, bytes))
    }
}

/// The tables of one write transaction and the writer's counters as the batch changes them.
struct Batch<'txn> {
    meta: redb::Table<'txn, &'static str, &'static [u8]>,
    bodies: redb::Table<'txn, &'static str, &'static [u8]>,
    due: redb::Table<'txn, (&'static str, u64, &'static str), u32>,
    dead: redb::Table<'txn, (&'static str, &'static str), ()>,
    bytes: u64,
    max_bytes: u64,
    last_id: u64,
    now_ms: u64,
}

fn not_found(id: DeliveryId, expected: &'static str) -> Answer {
    Err(SpoolError::NotFound { id, expected })
}

impl Batch<'_> {
    fn apply(&mut self, op: Op) -> Stored<Answer> {
        match op {
            Op::Enqueue(route, delivery) => self.enqueue(route, delivery),
            Op::Claim {
                route,
                now_ms,
                limit,
            } => self.claim(&route, now_ms, limit),
            Op::Delivered(id) => self.delivered(id),
            Op::Retry(id, due_ms, last) => self.retry(id, due_ms, last),
            Op::Dead(id, reason, last) => self.dead(id, reason, last),
            Op::Replay(id) => self.replay(id),
            Op::ReplayRoute(route) => self.replay_route(&route),
            Op::DropDead(id) => self.drop_dead(id),
            Op::Purge { before_ms } => self.purge(before_ms),
        }
    }

    fn enqueue(&mut self, route: String, delivery: NewDelivery) -> Stored<Answer> {
        let size = charged_size(&route, &delivery);
        if self.bytes.saturating_add(size) > self.max_bytes {
            return Ok(Err(SpoolError::Full));
        }
        let id = self.next_id();
        let due_ms = unix_ms(delivery.received_at);
        let record = Record {
            route,
            method: delivery.method,
            path_and_query: delivery.path_and_query,
            headers: delivery.headers,
            received_at_ms: unix_ms(delivery.received_at),
            age_from_ms: unix_ms(delivery.received_at),
            attempt: 0,
            state: State::Pending { due_ms },
            size,
            event: delivery.event,
            provider_delivery: delivery.provider_delivery,
            last_status: None,
            last_error: None,
        };
        self.put(&id, &record)?;
        self.bodies.insert(id.as_str(), delivery.body.as_ref())?;
        self.due
            .insert((record.route.as_str(), due_ms, id.as_str()), 0)?;
        self.bytes = self.bytes.saturating_add(size);
        Ok(Ok(Output::Id(id)))
    }

    /// Strictly increasing within this store even if the clock steps back.
    fn next_id(&mut self) -> DeliveryId {
        self.last_id = (self.now_ms << 16).max(self.last_id.saturating_add(1));
        DeliveryId::new(self.last_id, random_u32())
    }

    fn claim(&mut self, route: &str, now_ms: u64, limit: usize) -> Stored<Answer> {
        let mut due_ids = Vec::new();
        for entry in self
            .due
            .range((route, 0u64, "")..(route, now_ms.saturating_add(1), ""))?
            .take(limit)
        {
            let (key, _) = entry?;
            due_ids.extend(DeliveryId::parse(key.value().2));
        }
        let mut taken = Vec::with_capacity(due_ids.len());
        for id in due_ids {
            taken.extend(self.take(id)?);
        }
        Ok(Ok(Output::Deliveries(taken)))
    }

    fn take(&mut self, id: DeliveryId) -> Stored<Option<Delivery>> {
        let Some(mut record) = self.get(&id)? else {
            return Ok(None);
        };
        let State::Pending { due_ms } = record.state else {
            return Ok(None);
        };
        self.due
            .remove((record.route.as_str(), due_ms, id.as_str()))?;
        record.state = State::InFlight { due_ms };
        self.put(&id, &record)?;
        let body = match self.bodies.get(id.as_str())? {
            Some(body) => Bytes::copy_from_slice(body.value()),
            None => return Err(Fault(format!("delivery {id} has no body"))),
        };
        Ok(Some(Delivery {
            id,
            route: record.route,
            method: record.method,
            path_and_query: record.path_and_query,
            headers: record.headers,
            body,
            received_at: from_unix_ms(record.received_at_ms),
            age_from: from_unix_ms(record.age_from_ms),
            attempt: record.attempt,
            next_due: from_unix_ms(due_ms),
            event: record.event,
        }))
    }

    fn delivered(&mut self, id: DeliveryId) -> Stored<Answer> {
        match self.get(&id)? {
            Some(record) if matches!(record.state, State::InFlight { .. }) => {
                self.remove(&id, &record)?;
                Ok(Ok(Output::Done))
            }
            _ => Ok(not_found(id, "in-flight")),
        }
    }

    fn retry(&mut self, id: DeliveryId, due_ms: u64, last: AttemptEnd) -> Stored<Answer> {
        let Some(mut record) = self.get(&id)? else {
            return Ok(not_found(id, "in-flight"));
        };
        let State::InFlight { .. } = record.state else {
            return Ok(not_found(id, "in-flight"));
        };
        record.attempt = record.attempt.saturating_add(1);
        record.remember(last);
        record.state = State::Pending { due_ms };
        self.put(&id, &record)?;
        self.due
            .insert((record.route.as_str(), due_ms, id.as_str()), record.attempt)?;
        Ok(Ok(Output::Done))
    }

    fn dead(
        &mut self,
        id: DeliveryId,
        reason: DeadReason,
        last: Option<AttemptEnd>,
    ) -> Stored<Answer> {
        let Some(mut record) = self.get(&id)? else {
            return Ok(not_found(id, "pending or in-flight"));
        };
        match record.state {
            State::Pending { due_ms } => {
                self.due
                    .remove((record.route.as_str(), due_ms, id.as_str()))?;
            }
            State::InFlight { .. } => record.attempt = record.attempt.saturating_add(1),
            State::Dead { .. } => return Ok(not_found(id, "pending or in-flight")),
        }
        if let Some(last) = last {
            record.remember(last);
        }
        record.state = State::Dead {
            reason,
            at_ms: self.now_ms,
        };
        self.put(&id, &record)?;
        self.dead.insert((record.route.as_str(), id.as_str()), ())?;
        Ok(Ok(Output::Done))
    }

    fn replay(&mut self, id: DeliveryId) -> Stored<Answer> {
        let Some(mut record) = self.get(&id)? else {
            return Ok(not_found(id, "dead"));
        };
        let State::Dead { .. } = record.state else {
            return Ok(not_found(id, "dead"));
        };
        self.dead.remove((record.route.as_str(), id.as_str()))?;
        record.state = State::Pending {
            due_ms: self.now_ms,
        };
        record.attempt = 0;
        record.age_from_ms = self.now_ms;
        self.put(&id, &record)?;
        self.due
            .insert((record.route.as_str(), self.now_ms, id.as_str()), 0)?;
        Ok(Ok(Output::Done))
    }

    fn replay_route(&mut self, route: &str) -> Stored<Answer> {
        let ids = self.dead_ids(|key_route, _| key_route == route)?;
        let mut replayed = 0;
        for id in ids {
            if self.replay(id)?.is_ok() {
                replayed += 1;
            }
        }
        Ok(Ok(Output::Count(replayed)))
    }

    fn purge(&mut self, before_ms: u64) -> Stored<Answer> {
        let ids = self.dead_ids(
            |_, record| matches!(record.state, State::Dead { at_ms, .. } if at_ms < before_ms),
        )?;
        let mut purged = 0;
        for id in ids {
            if self.drop_dead(id)?.is_ok() {
                purged += 1;
            }
        }
        Ok(Ok(Output::Count(purged)))
    }

    /// The dead letters whose route and record pass `keep`.
    fn dead_ids(&self, keep: impl Fn(&str, &Record) -> bool) -> Stored<Vec<DeliveryId>> {
        let mut ids = Vec::new();
        for entry in self.dead.iter()? {
            let (key, _) = entry?;
            let (route, id) = key.value();
            let Some(id) = DeliveryId::parse(id) else {
                continue;
            };
            if let Some(record) = self.get(&id)? {
                if keep(route, &record) {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }

    fn drop_dead(&mut self, id: DeliveryId) -> Stored<Answer> {
        match self.get(&id)? {
            Some(record) if matches!(record.state, State::Dead { .. }) => {
                self.dead.remove((record.route.as_str(), id.as_str()))?;
                self.remove(&id, &record)?;
                Ok(Ok(Output::Done))
            }
            _ => Ok(not_found(id, "dead")),
        }
    }

    fn get(&self, id: &DeliveryId) -> Stored<Option<Record>> {
        match self.meta.get(id.as_str())? {
            Some(encoded) => Ok(Some(postcard::from_bytes(encoded.value())?)),
            None => Ok(None),
        }
    }

    fn put(&mut self, id: &DeliveryId, record: &Record) -> Stored<()> {
        self.meta
            .insert(id.as_str(), postcard::to_allocvec(record)?.as_slice())?;
        Ok(())
    }

    /// Removes the record and body; the caller has already removed it from the due or dead index.
    fn remove(&mut self, id: &DeliveryId, record: &Record) -> Stored<()> {
        self.meta.remove(id.as_str())?;
        self.bodies.remove(id.as_str())?;
        self.bytes = self.bytes.saturating_sub(record.size);
        Ok(())
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

use read::{any_due, read_counts, read_dead_letters};

#[cfg(test)]
mod tests;
