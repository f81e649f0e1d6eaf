//! Store-and-forward (`delivery: queue`, issue 14): the durable spool that queued deliveries wait
//! in. Not wired to routes yet.
//!
//! - [`spool`]: the interface every backend implements: a delivery, its id and states, the
//!   operations, the counts behind the metrics.
//! - [`disk`]: the embedded backend, one redb file with group commit.
//! - [`redis`]: the shared backend for replicas: streams with a consumer group, Lua for atomicity.
//! - [`store`]: either backend as one type.

pub mod disk;
pub mod redis;
pub mod spool;
pub mod store;

#[cfg(test)]
pub(crate) mod conformance;

pub use disk::DiskSpool;
pub use redis::RedisSpool;
pub use spool::{
    AttemptEnd, DeadLetter, DeadReason, Delivery, DeliveryId, NewDelivery, RouteCounts, Spool,
    SpoolCounts, SpoolError,
};
pub use store::SpoolStore;
