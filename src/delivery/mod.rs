//! Store-and-forward (`delivery: {mode: queue}`): the durable spool that queued deliveries wait
//! in, and the dispatcher that hands them to the app.
//!
//! - [`queue`]: the spool as the request path and the dispatcher share it.
//! - [`dispatcher`] and `attempt`: claiming due deliveries, one attempt, and what its answer means.
//!
//! - [`spool`]: the interface every backend implements: a delivery, its id and states, the
//!   operations, the counts behind the metrics.
//! - [`disk`]: the embedded backend, one SQLite database (WAL) with group commit.
//! - [`redis`]: the shared backend for replicas: streams with a consumer group, Lua for atomicity.
//! - [`store`]: either backend as one type.

mod attempt;
pub mod disk;
pub mod dispatcher;
pub mod queue;
pub mod redis;
pub mod spool;
pub mod store;

#[cfg(test)]
pub(crate) mod conformance;

pub use disk::DiskSpool;
pub use queue::Queue;
pub use redis::RedisSpool;
pub use spool::{
    AttemptEnd, DeadLetter, DeadReason, Delivery, DeliveryId, NewDelivery, RouteCounts, Spool,
    SpoolCounts, SpoolError,
};
pub use store::SpoolStore;
