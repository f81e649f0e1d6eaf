//! The spool a config names, as one type: the [`Spool`] trait returns futures of their own type,
//! so it is not object-safe, and an enum is how the dispatcher and the admin API hold either
//! backend.

use std::time::{Duration, SystemTime};

use super::disk::DiskSpool;
use super::redis::RedisSpool;
use super::spool::{
    AttemptEnd, DeadLetter, DeadReason, Delivery, DeliveryId, NewDelivery, Spool, SpoolCounts,
    SpoolError,
};

// One per process, made at start and never moved in a hot path: boxing the larger variant would
// buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum SpoolStore {
    Disk(DiskSpool),
    Redis(RedisSpool),
}

macro_rules! each_backend {
    ($self:ident, $spool:ident => $call:expr) => {
        match $self {
            SpoolStore::Disk($spool) => $call.await,
            SpoolStore::Redis($spool) => $call.await,
        }
    };
}

impl Spool for SpoolStore {
    async fn enqueue(&self, route: &str, delivery: NewDelivery) -> Result<DeliveryId, SpoolError> {
        each_backend!(self, spool => spool.enqueue(route, delivery))
    }

    async fn claim(
        &self,
        route: &str,
        now: SystemTime,
        limit: usize,
        stale_after: Duration,
    ) -> Result<Vec<Delivery>, SpoolError> {
        each_backend!(self, spool => spool.claim(route, now, limit, stale_after))
    }

    async fn delivered(&self, id: &DeliveryId) -> Result<(), SpoolError> {
        each_backend!(self, spool => spool.delivered(id))
    }

    async fn retry(
        &self,
        id: &DeliveryId,
        next_due: SystemTime,
        last: AttemptEnd,
    ) -> Result<(), SpoolError> {
        each_backend!(self, spool => spool.retry(id, next_due, last))
    }

    async fn dead(
        &self,
        id: &DeliveryId,
        reason: DeadReason,
        last: Option<AttemptEnd>,
    ) -> Result<(), SpoolError> {
        each_backend!(self, spool => spool.dead(id, reason, last))
    }

    async fn dead_letters(
        &self,
        route: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, SpoolError> {
        each_backend!(self, spool => spool.dead_letters(route, limit))
    }

    async fn replay(&self, id: &DeliveryId) -> Result<(), SpoolError> {
        each_backend!(self, spool => spool.replay(id))
    }

    async fn replay_route(&self, route: &str) -> Result<u64, SpoolError> {
        each_backend!(self, spool => spool.replay_route(route))
    }

    async fn drop_dead(&self, id: &DeliveryId) -> Result<(), SpoolError> {
        each_backend!(self, spool => spool.drop_dead(id))
    }

    async fn purge_dead(&self, before: SystemTime) -> Result<u64, SpoolError> {
        each_backend!(self, spool => spool.purge_dead(before))
    }

    async fn counts(&self, now: SystemTime) -> Result<SpoolCounts, SpoolError> {
        each_backend!(self, spool => spool.counts(now))
    }
}

impl SpoolStore {
    /// Makes every change so far durable and stops taking new ones; for a clean stop.
    pub async fn close(&self) {
        match self {
            SpoolStore::Disk(spool) => spool.close().await,
            // Redis acknowledged every change as it was made; there is nothing left to write.
            SpoolStore::Redis(_) => {}
        }
    }
}
