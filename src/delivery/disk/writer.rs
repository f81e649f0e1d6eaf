//! The disk spool's one writer thread: it owns the id sequence, the counts and `max_bytes`, and
//! commits every change that queued up meanwhile in one transaction.

use super::*;

/// The dispatcher's own changes skip the fsync (see [`Op::must_be_durable`]); at least this
/// often one is made anyway, because redb frees pages only in durable commits.
const MAX_NON_DURABLE_COMMITS: u32 = 256;
const MAX_NON_DURABLE_TIME: Duration = Duration::from_secs(1);

pub(super) struct Writer {
    db: Arc<Database>,
    commits: Arc<AtomicU64>,
    published: Arc<Mutex<Tally>>,
    tally: Tally,
    max_bytes: u64,
    last_id: u64,
    non_durable_commits: u32,
    last_durable: std::time::Instant,
}

impl Writer {
    pub(super) fn new(
        db: Arc<Database>,
        commits: Arc<AtomicU64>,
        published: Arc<Mutex<Tally>>,
        tally: Tally,
        max_bytes: u64,
        last_id: u64,
    ) -> Self {
        Writer {
            db,
            commits,
            published,
            tally,
            max_bytes,
            last_id,
            non_durable_commits: 0,
            last_durable: std::time::Instant::now(),
        }
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

    /// One transaction, and one fsync when a change in it must be durable. The counts change
    /// only when the commit held.
    fn apply_all(&mut self, ops: Vec<Op>) -> Stored<Vec<Answer>> {
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
            fixed: txn.open_table(FIXED)?,
            bodies: txn.open_table(BODIES)?,
            status: txn.open_table(STATUS)?,
            due: txn.open_table(DUE)?,
            waiting: txn.open_table(WAITING)?,
            dead: txn.open_table(DEAD)?,
            tally: self.tally.clone(),
            max_bytes: self.max_bytes,
            last_id: self.last_id,
            now_ms: unix_ms(SystemTime::now()),
        };
        let answers = ops
            .into_iter()
            .map(|op| batch.apply(op))
            .collect::<Stored<Vec<_>>>()?;
        let (tally, last_id) = (std::mem::take(&mut batch.tally), batch.last_id);
        drop(batch);
        txn.commit()?;
        self.tally = tally;
        self.last_id = last_id;
        if durable {
            self.non_durable_commits = 0;
            self.last_durable = std::time::Instant::now();
        } else {
            self.non_durable_commits += 1;
        }
        Ok(answers)
    }
}

/// The tables of one write transaction and the writer's counters as the batch changes them.
struct Batch<'txn> {
    fixed: redb::Table<'txn, u128, &'static [u8]>,
    bodies: redb::Table<'txn, u128, &'static [u8]>,
    status: redb::Table<'txn, u128, &'static [u8]>,
    due: redb::Table<'txn, (&'static str, u64, u128), ()>,
    waiting: redb::Table<'txn, (&'static str, u64, u128), ()>,
    dead: redb::Table<'txn, (&'static str, u128), ()>,
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
        let key = id.to_u128();
        let status = Status {
            route: new.route,
            state: State::Pending {
                due_ms: new.received_at_ms,
            },
            attempt: 0,
            received_at_ms: new.received_at_ms,
            age_from_ms: new.received_at_ms,
            size: new.size,
            last_status: None,
            last_error: None,
        };
        self.fixed.insert(key, new.fixed.as_slice())?;
        self.bodies.insert(key, new.body.as_ref())?;
        self.put(key, &status)?;
        self.index_pending(key, &status, new.received_at_ms)?;
        self.tally.add(&status.route, &status.state);
        self.tally.bytes = self.tally.bytes.saturating_add(new.size);
        Ok(Ok(Output::Id(id)))
    }

    /// Strictly increasing within this store even if the clock steps back.
    fn next_id(&mut self) -> DeliveryId {
        self.last_id = (self.now_ms << 16).max(self.last_id.saturating_add(1));
        DeliveryId::new(self.last_id, random_u32())
    }

    fn claim(&mut self, route: &str, now_ms: u64, limit: usize) -> Stored<Answer> {
        let mut due_keys = Vec::new();
        for entry in self
            .due
            .range((route, 0u64, 0u128)..(route, now_ms.saturating_add(1), 0u128))?
            .take(limit)
        {
            let (key, _) = entry?;
            due_keys.push(key.value().2);
        }
        let mut taken = Vec::with_capacity(due_keys.len());
        for key in due_keys {
            taken.extend(self.take(key)?);
        }
        Ok(Ok(Output::Deliveries(taken)))
    }

    fn take(&mut self, key: u128) -> Stored<Option<Delivery>> {
        let Some(mut status) = self.get(key)? else {
            return Ok(None);
        };
        let State::Pending { due_ms } = status.state else {
            return Ok(None);
        };
        self.unindex_pending(key, &status, due_ms)?;
        let in_flight = State::InFlight { due_ms };
        self.tally.moved(&status.route, &status.state, &in_flight);
        status.state = in_flight;
        self.put(key, &status)?;
        let fixed: Fixed = match self.fixed.get(key)? {
            Some(encoded) => postcard::from_bytes(encoded.value())?,
            None => return Err(Fault(format!("delivery {key:x} has no record"))),
        };
        let body = match self.bodies.get(key)? {
            Some(body) => Bytes::copy_from_slice(body.value()),
            None => return Err(Fault(format!("delivery {key:x} has no body"))),
        };
        Ok(Some(Delivery {
            id: DeliveryId::from_u128(key),
            route: status.route,
            method: fixed.method,
            path_and_query: fixed.path_and_query,
            headers: fixed.headers,
            body,
            received_at: super::super::spool::from_unix_ms(status.received_at_ms),
            age_from: super::super::spool::from_unix_ms(status.age_from_ms),
            attempt: status.attempt,
            next_due: super::super::spool::from_unix_ms(due_ms),
            event: fixed.event,
        }))
    }

    fn delivered(&mut self, id: DeliveryId) -> Stored<Answer> {
        let key = id.to_u128();
        match self.get(key)? {
            Some(status) if matches!(status.state, State::InFlight { .. }) => {
                self.remove(key, &status)?;
                Ok(Ok(Output::Done))
            }
            _ => Ok(not_found(id, "in-flight")),
        }
    }

    fn retry(&mut self, id: DeliveryId, due_ms: u64, last: AttemptEnd) -> Stored<Answer> {
        let key = id.to_u128();
        let Some(mut status) = self.get(key)? else {
            return Ok(not_found(id, "in-flight"));
        };
        let State::InFlight { .. } = status.state else {
            return Ok(not_found(id, "in-flight"));
        };
        let pending = State::Pending { due_ms };
        self.tally.moved(&status.route, &status.state, &pending);
        status.attempt = status.attempt.saturating_add(1);
        status.remember(last);
        status.state = pending;
        self.put(key, &status)?;
        self.index_pending(key, &status, due_ms)?;
        Ok(Ok(Output::Done))
    }

    fn dead(
        &mut self,
        id: DeliveryId,
        reason: DeadReason,
        last: Option<AttemptEnd>,
    ) -> Stored<Answer> {
        let key = id.to_u128();
        let Some(mut status) = self.get(key)? else {
            return Ok(not_found(id, "pending or in-flight"));
        };
        match status.state {
            State::Pending { due_ms } => self.unindex_pending(key, &status, due_ms)?,
            State::InFlight { .. } => status.attempt = status.attempt.saturating_add(1),
            State::Dead { .. } => return Ok(not_found(id, "pending or in-flight")),
        }
        if let Some(last) = last {
            status.remember(last);
        }
        let dead = State::Dead {
            reason,
            at_ms: self.now_ms,
        };
        self.tally.moved(&status.route, &status.state, &dead);
        status.state = dead;
        self.put(key, &status)?;
        self.dead.insert((status.route.as_str(), key), ())?;
        Ok(Ok(Output::Done))
    }

    fn replay(&mut self, id: DeliveryId) -> Stored<Answer> {
        let key = id.to_u128();
        let Some(mut status) = self.get(key)? else {
            return Ok(not_found(id, "dead"));
        };
        let State::Dead { .. } = status.state else {
            return Ok(not_found(id, "dead"));
        };
        self.dead.remove((status.route.as_str(), key))?;
        let pending = State::Pending {
            due_ms: self.now_ms,
        };
        self.tally.moved(&status.route, &status.state, &pending);
        status.state = pending;
        status.attempt = 0;
        status.age_from_ms = self.now_ms;
        self.put(key, &status)?;
        self.index_pending(key, &status, self.now_ms)?;
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
            |_, status| matches!(status.state, State::Dead { at_ms, .. } if at_ms < before_ms),
        )?;
        let mut purged = 0;
        for id in ids {
            if self.drop_dead(id)?.is_ok() {
                purged += 1;
            }
        }
        Ok(Ok(Output::Count(purged)))
    }

    /// The dead letters whose route and status pass `keep`.
    fn dead_ids(&self, keep: impl Fn(&str, &Status) -> bool) -> Stored<Vec<DeliveryId>> {
        let mut ids = Vec::new();
        for entry in self.dead.iter()? {
            let (key, _) = entry?;
            let (route, id) = key.value();
            if let Some(status) = self.get(id)? {
                if keep(route, &status) {
                    ids.push(DeliveryId::from_u128(id));
                }
            }
        }
        Ok(ids)
    }

    fn drop_dead(&mut self, id: DeliveryId) -> Stored<Answer> {
        let key = id.to_u128();
        match self.get(key)? {
            Some(status) if matches!(status.state, State::Dead { .. }) => {
                self.dead.remove((status.route.as_str(), key))?;
                self.remove(key, &status)?;
                Ok(Ok(Output::Done))
            }
            _ => Ok(not_found(id, "dead")),
        }
    }

    fn get(&self, key: u128) -> Stored<Option<Status>> {
        match self.status.get(key)? {
            Some(encoded) => Ok(Some(postcard::from_bytes(encoded.value())?)),
            None => Ok(None),
        }
    }

    fn put(&mut self, key: u128, status: &Status) -> Stored<()> {
        self.status
            .insert(key, postcard::to_allocvec(status)?.as_slice())?;
        Ok(())
    }

    fn index_pending(&mut self, key: u128, status: &Status, due_ms: u64) -> Stored<()> {
        let route = status.route.as_str();
        self.due.insert((route, due_ms, key), ())?;
        self.waiting
            .insert((route, status.received_at_ms, key), ())?;
        Ok(())
    }

    fn unindex_pending(&mut self, key: u128, status: &Status, due_ms: u64) -> Stored<()> {
        let route = status.route.as_str();
        self.due.remove((route, due_ms, key))?;
        self.waiting.remove((route, status.received_at_ms, key))?;
        Ok(())
    }

    /// Removes every record of a delivery that left its indexes already.
    fn remove(&mut self, key: u128, status: &Status) -> Stored<()> {
        self.fixed.remove(key)?;
        self.bodies.remove(key)?;
        self.status.remove(key)?;
        self.tally.remove(&status.route, &status.state);
        self.tally.bytes = self.tally.bytes.saturating_sub(status.size);
        Ok(())
    }
}
