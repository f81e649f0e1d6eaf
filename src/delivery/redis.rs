//! The shared spool: Redis, for replicas. One stream per route with a consumer group (each
//! process one consumer), retries in a sorted set, dead letters in a stream of their own; every
//! change is one Lua script, so it is atomic. The key layout is in [`scripts`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use ::redis::ScriptInvocation;
use serde::{Deserialize, Serialize};

use super::disk::{charged_size, random_u32};
use super::spool::{
    from_unix_ms, unix_ms, AttemptEnd, DeadLetter, DeadReason, Delivery, DeliveryId, NewDelivery,
    RequestRecord, RouteCounts, Spool, SpoolCounts, SpoolError,
};

mod link;
mod scripts;

use link::Link;
use scripts::Scripts;

/// Every key this spool writes starts with this.
pub const KEY_PREFIX: &str = "hookguard:spool:";

/// A Redis that answers nothing for this long counts as failed, so a hung server fails the
/// operation instead of hanging the dispatcher.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// At most this many deliveries per claim: Redis runs nothing else while a script runs.
const MAX_CLAIM: usize = 10_000;

/// The immutable part of a delivery, stored postcard-encoded in the record's `meta` field; what
/// changes over its life lives in plain hash fields, so the Lua scripts can change it.
#[derive(Serialize, Deserialize)]
struct Meta {
    request: RequestRecord,
    received_at_ms: u64,
}

/// A delivery being enqueued, encoded.
struct New<'a> {
    route: &'a str,
    size: u64,
    meta: &'a [u8],
    body: &'a bytes::Bytes,
    received_ms: u64,
}

/// The Redis [`Spool`], shared by every replica that connects to the same server.
pub struct RedisSpool {
    link: Link,
    scripts: Scripts,
    consumer: String,
    max_bytes: u64,
    appendfsync_always: Option<bool>,
    evicts_any_key: bool,
}

fn storage(why: impl std::fmt::Display) -> SpoolError {
    SpoolError::Storage(format!("redis: {why}"))
}

impl RedisSpool {
    /// Connects and refuses a Redis without an append-only file: without one, a delivery
    /// acknowledged to its sender is lost if Redis restarts.
    pub async fn connect(url: &str, max_bytes: u64) -> Result<Self, SpoolError> {
        let mut spool = RedisSpool {
            link: Link::new(url)?,
            scripts: Scripts::new(),
            consumer: consumer_name(),
            max_bytes,
            appendfsync_always: None,
            evicts_any_key: false,
        };
        spool.require_aof().await?;
        spool.appendfsync_always = spool.read_appendfsync().await;
        spool.evicts_any_key = spool.read_evicts_any_key().await?;
        Ok(spool)
    }

    /// Whether Redis fsyncs every write (`appendfsync always`); None when `CONFIG` is unavailable.
    pub fn appendfsync_always(&self) -> Option<bool> {
        self.appendfsync_always
    }

    /// What the app should log as warnings at start: each a way Redis, though it has AOF, may
    /// still lose acknowledged deliveries.
    pub fn durability_warnings(&self) -> Vec<&'static str> {
        let fsync = match self.appendfsync_always {
            Some(true) => None,
            Some(false) => Some(
                "the spool's Redis does not fsync every write (appendfsync is not `always`): \
                 a power loss can lose up to the last second of acknowledged deliveries",
            ),
            None => Some(
                "could not read the spool's Redis appendfsync setting (CONFIG unavailable): \
                 unless it is `always`, a power loss can lose up to the last second of \
                 acknowledged deliveries",
            ),
        };
        let evicts = self.evicts_any_key.then_some(
            "the spool's Redis evicts keys without a TTL under memory pressure (an allkeys-* \
             maxmemory-policy): it can drop queued deliveries; use noeviction",
        );
        fsync.into_iter().chain(evicts).collect()
    }

    /// This process's consumer name in every route's group.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// `INFO persistence` rather than `CONFIG`, which managed Redis often renames away.
    async fn require_aof(&self) -> Result<(), SpoolError> {
        let mut info = ::redis::cmd("INFO");
        info.arg("persistence");
        let info: String = self.link.command(&info).await?;
        if info.lines().any(|line| line.trim() == "aof_enabled:1") {
            return Ok(());
        }
        Err(storage(
            "the server has no append-only file, so a delivery acknowledged to its sender \
             could be lost in a Redis restart; set `appendonly yes` (and preferably \
             `appendfsync always`)",
        ))
    }

    /// From `INFO memory`, which works where CONFIG is renamed. Keys with no TTL (all of ours)
    /// are evicted only by the allkeys-* policies.
    async fn read_evicts_any_key(&self) -> Result<bool, SpoolError> {
        let mut info = ::redis::cmd("INFO");
        info.arg("memory");
        let info: String = self.link.command(&info).await?;
        Ok(info
            .lines()
            .any(|line| line.trim().starts_with("maxmemory_policy:allkeys")))
    }

    async fn read_appendfsync(&self) -> Option<bool> {
        let mut get = ::redis::cmd("CONFIG");
        get.arg("GET").arg("appendfsync");
        let pair: Vec<String> = self.link.command(&get).await.ok()?;
        pair.get(1).map(|value| value == "always")
    }

    /// 1 when written, 0 when full, -1 when the id is taken.
    async fn write_new(&self, new: &New<'_>, id: &DeliveryId) -> Result<i64, SpoolError> {
        let mut call = self.scripts.enqueue.prepare_invoke();
        call.arg(KEY_PREFIX).arg(new.route).arg(id.as_str());
        call.arg(new.size).arg(self.max_bytes).arg(new.meta);
        call.arg(new.body.as_ref()).arg(new.received_ms);
        self.link.invoke(&call).await
    }

    /// Runs a script that answers 1 when the delivery was in the state it needs, else 0.
    async fn change(
        &self,
        invocation: &ScriptInvocation<'_>,
        id: &DeliveryId,
        expected: &'static str,
    ) -> Result<(), SpoolError> {
        match self.link.invoke::<i64>(invocation).await? {
            1 => Ok(()),
            _ => Err(SpoolError::NotFound {
                id: id.clone(),
                expected,
            }),
        }
    }
}

/// Unique per process and per spool: the host, the pid and random bits, so a restarted process
/// never inherits a dead one's claims except through `stale_after`.
fn consumer_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!("{host}-{}-{:08x}", std::process::id(), random_u32())
}

/// Strictly increasing within this process even if the clock steps back; the random low bits
/// keep replicas' ids apart.
fn next_id() -> DeliveryId {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = unix_ms(SystemTime::now()) << 16;
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last.saturating_add(1));
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return DeliveryId::new(next, random_u32()),
            Err(current) => last = current,
        }
    }
}

mod decode;

use decode::{decode_counts, decode_dead_letter, decode_delivery};

impl Spool for RedisSpool {
    /// Acknowledged only once Redis has answered the write (and, with AOF, logged it).
    async fn enqueue(&self, route: &str, delivery: NewDelivery) -> Result<DeliveryId, SpoolError> {
        let size = charged_size(route, &delivery);
        let received_ms = unix_ms(delivery.received_at);
        let (request, body) = RequestRecord::split(delivery);
        let meta = Meta {
            request,
            received_at_ms: received_ms,
        };
        let meta = postcard::to_allocvec(&meta).map_err(storage)?;
        let new = New {
            route,
            size,
            meta: &meta,
            body: &body,
            received_ms,
        };
        for _ in 0..3 {
            let id = next_id();
            match self.write_new(&new, &id).await? {
                1 => return Ok(id),
                0 => return Err(SpoolError::Full),
                _ => continue,
            }
        }
        Err(storage("no free delivery id after three tries"))
    }

    /// Due retries move into the stream first, then entries idle past `stale_after` are taken
    /// over from whichever consumer held them, then unread entries are read; all in one script.
    async fn claim(
        &self,
        route: &str,
        now: SystemTime,
        limit: usize,
        stale_after: Duration,
    ) -> Result<Vec<Delivery>, SpoolError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let stale_ms = u64::try_from(stale_after.as_millis()).unwrap_or(u64::MAX);
        let mut call = self.scripts.claim.prepare_invoke();
        call.arg(KEY_PREFIX)
            .arg(route)
            .arg(unix_ms(now))
            .arg(limit.min(MAX_CLAIM));
        call.arg(stale_ms).arg(&self.consumer);
        let rows: Vec<Vec<Option<Vec<u8>>>> = self.link.invoke(&call).await?;
        let mut taken = rows
            .into_iter()
            .map(|row| decode_delivery(route, row))
            .collect::<Result<Vec<_>, _>>()?;
        taken.sort_by(|a, b| (a.next_due, &a.id).cmp(&(b.next_due, &b.id)));
        Ok(taken)
    }

    async fn delivered(&self, id: &DeliveryId) -> Result<(), SpoolError> {
        let mut call = self.scripts.delivered.prepare_invoke();
        call.arg(KEY_PREFIX).arg(id.as_str());
        self.change(&call, id, "in-flight").await
    }

    async fn retry(
        &self,
        id: &DeliveryId,
        next_due: SystemTime,
        last: AttemptEnd,
    ) -> Result<(), SpoolError> {
        let status = last.status.map(|s| s.to_string()).unwrap_or_default();
        let mut call = self.scripts.retry.prepare_invoke();
        call.arg(KEY_PREFIX).arg(id.as_str()).arg(unix_ms(next_due));
        call.arg(status).arg(last.error);
        self.change(&call, id, "in-flight").await
    }

    async fn dead(
        &self,
        id: &DeliveryId,
        reason: DeadReason,
        last: Option<AttemptEnd>,
    ) -> Result<(), SpoolError> {
        let now_ms = unix_ms(SystemTime::now());
        let mut call = self.scripts.dead.prepare_invoke();
        call.arg(KEY_PREFIX).arg(id.as_str()).arg(reason.as_str());
        call.arg(now_ms);
        match last {
            Some(last) => {
                let status = last.status.map(|s| s.to_string()).unwrap_or_default();
                call.arg("1").arg(status).arg(last.error)
            }
            None => call.arg("0").arg("").arg(""),
        };
        self.change(&call, id, "pending or in-flight").await
    }

    async fn dead_letters(
        &self,
        route: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, SpoolError> {
        let mut call = self.scripts.dead_letters.prepare_invoke();
        call.arg(KEY_PREFIX)
            .arg(if route.is_some() { "1" } else { "0" })
            .arg(route.unwrap_or(""))
            .arg(limit);
        let rows: Vec<Vec<Option<Vec<u8>>>> = self.link.invoke(&call).await?;
        rows.into_iter().map(decode_dead_letter).collect()
    }

    async fn replay(&self, id: &DeliveryId) -> Result<(), SpoolError> {
        let mut call = self.scripts.replay.prepare_invoke();
        call.arg(KEY_PREFIX)
            .arg(id.as_str())
            .arg(unix_ms(SystemTime::now()));
        self.change(&call, id, "dead").await
    }

    async fn replay_route(&self, route: &str) -> Result<u64, SpoolError> {
        let mut call = self.scripts.replay_route.prepare_invoke();
        call.arg(KEY_PREFIX)
            .arg(route)
            .arg(unix_ms(SystemTime::now()));
        self.link.invoke(&call).await
    }

    async fn drop_dead(&self, id: &DeliveryId) -> Result<(), SpoolError> {
        let mut call = self.scripts.drop_dead.prepare_invoke();
        call.arg(KEY_PREFIX).arg(id.as_str());
        self.change(&call, id, "dead").await
    }

    async fn purge_dead(&self, before: SystemTime) -> Result<u64, SpoolError> {
        let mut call = self.scripts.purge.prepare_invoke();
        call.arg(KEY_PREFIX).arg(unix_ms(before));
        self.link.invoke(&call).await
    }

    async fn counts(&self, now: SystemTime) -> Result<SpoolCounts, SpoolError> {
        let mut call = self.scripts.counts.prepare_invoke();
        call.arg(KEY_PREFIX);
        let (bytes, rows): (String, Vec<Vec<String>>) = self.link.invoke(&call).await?;
        decode_counts(&bytes, rows, unix_ms(now))
    }
}

#[cfg(test)]
mod tests;
