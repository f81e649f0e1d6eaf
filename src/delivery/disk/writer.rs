//! The disk spool's one writer thread: it owns the id sequence, the counts and `max_bytes`, and
//! commits every change that queued up meanwhile in one transaction.

use rusqlite::{params, OptionalExtension, Row};

use super::*;
use crate::delivery::spool::from_unix_ms;

/// The dispatcher's own changes skip the fsync (see [`Op::must_be_durable`]); at least this
/// often one is made anyway, so a crash never takes back more than a moment of its work.
const MAX_NON_DURABLE_TIME: Duration = Duration::from_secs(1);

pub(super) struct Writer {
    connection: Connection,
    commits: Arc<AtomicU64>,
    published: Arc<Mutex<Tally>>,
    tally: Tally,
    max_bytes: u64,
    last_id: u64,
    /// Whether the log holds commits not yet fsync'd.
    unsynced: bool,
    /// The `synchronous` level set on the connection, so it is changed only when it must be.
    syncing: bool,
    last_durable: std::time::Instant,
}

/// What a change needs of a row, without its body.
struct Found {
    route: String,
    state: i64,
    size: u64,
}

impl Writer {
    pub(super) fn new(
        connection: Connection,
        commits: Arc<AtomicU64>,
        published: Arc<Mutex<Tally>>,
        tally: Tally,
        max_bytes: u64,
        last_id: u64,
    ) -> Self {
        Writer {
            connection,
            commits,
            published,
            tally,
            max_bytes,
            last_id,
            unsynced: false,
            syncing: true,
            last_durable: std::time::Instant::now(),
        }
    }

    /// In WAL mode FULL syncs the log at commit and NORMAL does not; an fsync'd commit makes
    /// the unsynced ones before it durable too, since they sit earlier in the same log.
    fn sync_commits(&mut self, sync: bool) -> Stored<()> {
        if self.syncing != sync {
            let level = if sync { "FULL" } else { "NORMAL" };
            self.connection.pragma_update(None, "synchronous", level)?;
            self.syncing = sync;
        }
        Ok(())
    }

    /// Waits for a change, then commits it with every change that queued up meanwhile.
    pub(super) fn run(mut self, messages: &mpsc::Receiver<Message>) {
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

    /// Syncs the log, so the dispatcher's last changes survive a clean stop: a checkpoint
    /// fsyncs the log before copying it into the database (an empty commit would write nothing).
    fn make_durable(&mut self) {
        if !self.unsynced {
            return;
        }
        let synced = self.sync_commits(true).and_then(|()| {
            self.connection
                .query_row("PRAGMA wal_checkpoint(FULL)", (), |_| Ok(()))
                .map_err(Fault::from)
        });
        match synced {
            Ok(()) => self.unsynced = false,
            Err(fault) => tracing::error!(error = %fault.0, "spool: final sync failed"),
        }
    }

    fn commit(&mut self, ops: Vec<Op>, replies: Vec<oneshot::Sender<Answer>>) {
        match self.apply_all(ops) {
            Ok(answers) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut published) = self.published.lock() {
                    published.clone_from(&self.tally);
                }
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

    /// One transaction, with an fsync of the log when a change in it must be durable. The
    /// counts and the id sequence change only when the commit held.
    fn apply_all(&mut self, ops: Vec<Op>) -> Stored<Vec<Answer>> {
        let durable = ops.iter().any(Op::must_be_durable)
            || self.last_durable.elapsed() >= MAX_NON_DURABLE_TIME;
        self.sync_commits(durable)?;
        self.connection.execute_batch("BEGIN IMMEDIATE")?;
        let mut batch = Batch {
            connection: &self.connection,
            tally: self.tally.clone(),
            max_bytes: self.max_bytes,
            last_id: self.last_id,
            now_ms: unix_ms(SystemTime::now()),
        };
        let applied = ops
            .into_iter()
            .map(|op| batch.apply(op))
            .collect::<Stored<Vec<_>>>();
        let (tally, last_id) = (std::mem::take(&mut batch.tally), batch.last_id);
        let answers = match applied {
            Ok(answers) => answers,
            Err(fault) => {
                let _ = self.connection.execute_batch("ROLLBACK");
                return Err(fault);
            }
        };
        if let Err(error) = self.connection.execute_batch("COMMIT") {
            let _ = self.connection.execute_batch("ROLLBACK");
            return Err(error.into());
        }
        self.tally = tally;
        self.last_id = last_id;
        if durable {
            self.unsynced = false;
            self.last_durable = std::time::Instant::now();
        } else {
            self.unsynced = true;
        }
        Ok(answers)
    }
}

/// One transaction's view: the connection, and the writer's counters as the batch changes them.
struct Batch<'c> {
    connection: &'c Connection,
    tally: Tally,
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
            Op::Enqueue(new) => self.enqueue(new),
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

    fn enqueue(&mut self, new: Enqueue) -> Stored<Answer> {
        if self.tally.bytes.saturating_add(new.size) > self.max_bytes {
            return Ok(Err(SpoolError::Full));
        }
        let id = self.next_id();
        let received = int(new.received_at_ms);
        self.connection
            .prepare_cached(
                "INSERT INTO deliveries (seq, salt, route, state, due_ms, received_ms, age_from_ms,
                 attempt, size, fixed, body) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5, 0, ?6, ?7, ?8)",
            )?
            .execute(params![
                int(id.time_and_counter()),
                i64::from(id.random()),
                new.route,
                PENDING,
                received,
                int(new.size),
                new.fixed,
                new.body.as_ref(),
            ])?;
        self.tally.add(&new.route, PENDING);
        self.tally.bytes = self.tally.bytes.saturating_add(new.size);
        Ok(Ok(Output::Id(id)))
    }

    /// Strictly increasing within this store even if the clock steps back.
    fn next_id(&mut self) -> DeliveryId {
        self.last_id = (self.now_ms << 16).max(self.last_id.saturating_add(1));
        DeliveryId::new(self.last_id, random_u32())
    }

    fn claim(&mut self, route: &str, now_ms: u64, limit: usize) -> Stored<Answer> {
        let mut taken = Vec::new();
        {
            let mut due = self.connection.prepare_cached(
                "SELECT seq, salt, due_ms, received_ms, age_from_ms, attempt, fixed, body
                 FROM deliveries WHERE route = ?1 AND state = 0 AND due_ms <= ?2
                 ORDER BY due_ms, seq LIMIT ?3",
            )?;
            let mut rows = due.query(params![route, int(now_ms), int(limit as u64)])?;
            while let Some(row) = rows.next()? {
                taken.push(delivery_from(route, row)?);
            }
        }
        let mut mark = self
            .connection
            .prepare_cached("UPDATE deliveries SET state = 1 WHERE seq = ?1")?;
        for delivery in &taken {
            mark.execute([int(delivery.id.time_and_counter())])?;
            self.tally.moved(route, PENDING, IN_FLIGHT);
        }
        Ok(Ok(Output::Deliveries(taken)))
    }

    fn find(&self, id: &DeliveryId) -> Stored<Option<Found>> {
        let found = self
            .connection
            .prepare_cached(
                "SELECT route, state, size FROM deliveries WHERE seq = ?1 AND salt = ?2",
            )?
            .query_row(
                params![int(id.time_and_counter()), i64::from(id.random())],
                |row| {
                    Ok(Found {
                        route: row.get(0)?,
                        state: row.get(1)?,
                        size: uint(row.get(2)?),
                    })
                },
            )
            .optional()?;
        Ok(found)
    }

    fn delivered(&mut self, id: DeliveryId) -> Stored<Answer> {
        self.remove_if(id, IN_FLIGHT, "in-flight")
    }

    /// Removes the delivery if it is in `state`.
    fn remove_if(&mut self, id: DeliveryId, state: i64, expected: &'static str) -> Stored<Answer> {
        match self.find(&id)? {
            Some(found) if found.state == state => {
                self.remove(&id, &found)?;
                Ok(Ok(Output::Done))
            }
            _ => Ok(not_found(id, expected)),
        }
    }

    fn retry(&mut self, id: DeliveryId, due_ms: u64, last: AttemptEnd) -> Stored<Answer> {
        let Some(found) = self.find(&id)?.filter(|f| f.state == IN_FLIGHT) else {
            return Ok(not_found(id, "in-flight"));
        };
        self.connection
            .prepare_cached(
                "UPDATE deliveries SET state = 0, due_ms = ?2, attempt = attempt + 1,
                 last_status = ?3, last_error = ?4 WHERE seq = ?1",
            )?
            .execute(params![
                int(id.time_and_counter()),
                int(due_ms),
                last.status,
                last.error
            ])?;
        self.tally.moved(&found.route, IN_FLIGHT, PENDING);
        Ok(Ok(Output::Done))
    }

    fn dead(
        &mut self,
        id: DeliveryId,
        reason: DeadReason,
        last: Option<AttemptEnd>,
    ) -> Stored<Answer> {
        let Some(found) = self.find(&id)?.filter(|f| f.state != DEAD) else {
            return Ok(not_found(id, "pending or in-flight"));
        };
        let ended = i64::from(found.state == IN_FLIGHT);
        let (status, error, keep_last) = match last {
            Some(last) => (last.status, Some(last.error), 0),
            None => (None, None, 1),
        };
        self.connection
            .prepare_cached(
                "UPDATE deliveries SET state = 2, attempt = attempt + ?2, dead_reason = ?3,
                 dead_ms = ?4,
                 last_status = CASE WHEN ?7 = 1 THEN last_status ELSE ?5 END,
                 last_error = CASE WHEN ?7 = 1 THEN last_error ELSE ?6 END
                 WHERE seq = ?1",
            )?
            .execute(params![
                int(id.time_and_counter()),
                ended,
                reason_code(reason),
                int(self.now_ms),
                status,
                error,
                keep_last
            ])?;
        self.tally.moved(&found.route, found.state, DEAD);
        Ok(Ok(Output::Done))
    }

    fn replay(&mut self, id: DeliveryId) -> Stored<Answer> {
        let Some(found) = self.find(&id)?.filter(|f| f.state == DEAD) else {
            return Ok(not_found(id, "dead"));
        };
        self.connection
            .prepare_cached(
                "UPDATE deliveries SET state = 0, due_ms = ?2, age_from_ms = ?2, attempt = 0,
                 dead_reason = NULL, dead_ms = NULL WHERE seq = ?1",
            )?
            .execute(params![int(id.time_and_counter()), int(self.now_ms)])?;
        self.tally.moved(&found.route, DEAD, PENDING);
        Ok(Ok(Output::Done))
    }

    fn replay_route(&mut self, route: &str) -> Stored<Answer> {
        let ids = self.dead_ids(
            "SELECT seq, salt FROM deliveries WHERE state = 2 AND route = ?1",
            route.to_owned(),
        )?;
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
            "SELECT seq, salt FROM deliveries WHERE state = 2 AND dead_ms < ?1",
            int(before_ms),
        )?;
        let mut purged = 0;
        for id in ids {
            if self.drop_dead(id)?.is_ok() {
                purged += 1;
            }
        }
        Ok(Ok(Output::Count(purged)))
    }

    fn dead_ids(&self, query: &str, parameter: impl rusqlite::ToSql) -> Stored<Vec<DeliveryId>> {
        let mut statement = self.connection.prepare_cached(query)?;
        let ids = statement
            .query_map([parameter], |row| {
                Ok(DeliveryId::new(uint(row.get(0)?), row.get::<_, u32>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ids)
    }

    fn drop_dead(&mut self, id: DeliveryId) -> Stored<Answer> {
        self.remove_if(id, DEAD, "dead")
    }

    fn remove(&mut self, id: &DeliveryId, found: &Found) -> Stored<()> {
        self.connection
            .prepare_cached("DELETE FROM deliveries WHERE seq = ?1")?
            .execute([int(id.time_and_counter())])?;
        self.tally.remove(&found.route, found.state);
        self.tally.bytes = self.tally.bytes.saturating_sub(found.size);
        Ok(())
    }
}

/// A claimed row as the dispatcher gets it; the columns are those `claim` selects.
fn delivery_from(route: &str, row: &Row<'_>) -> Stored<Delivery> {
    let fixed: RequestRecord = postcard::from_bytes(&row.get::<_, Vec<u8>>(6)?)?;
    let body: Vec<u8> = row.get(7)?;
    Ok(Delivery {
        id: DeliveryId::new(uint(row.get(0)?), row.get(1)?),
        route: route.to_owned(),
        method: fixed.method,
        path_and_query: fixed.path_and_query,
        headers: fixed.headers,
        body: Bytes::from(body),
        received_at: from_unix_ms(uint(row.get(3)?)),
        age_from: from_unix_ms(uint(row.get(4)?)),
        attempt: row.get(5)?,
        next_due: from_unix_ms(uint(row.get(2)?)),
        event: fixed.event,
    })
}
