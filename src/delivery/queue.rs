//! The spool as the request path and the dispatcher share it: a durable write with a deadline and
//! its timing, and the wake-up that tells the dispatcher a delivery is waiting.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::spool::{DeliveryId, NewDelivery, Spool, SpoolError};
use super::store::SpoolStore;
use crate::telemetry::metrics::Metrics;

/// A sender waits at most this long for the durable write; DriveWidget and the form widget give
/// up after 10 s, and a 503 in time is better than a 200 too late.
const WRITE_DEADLINE: Duration = Duration::from_secs(5);

pub struct Queue {
    pub spool: SpoolStore,
    /// Woken on every enqueue and every finished attempt, so the dispatcher need not poll fast.
    pub wake: Notify,
    metrics: Arc<Metrics>,
}

impl Queue {
    pub fn new(spool: SpoolStore, metrics: Arc<Metrics>) -> Self {
        Queue {
            spool,
            wake: Notify::new(),
            metrics,
        }
    }

    /// Writes a verified delivery durably; Ok only once it would survive a crash.
    pub async fn enqueue(
        &self,
        route: &str,
        delivery: NewDelivery,
    ) -> Result<DeliveryId, SpoolError> {
        let started = Instant::now();
        let written = tokio::time::timeout(WRITE_DEADLINE, self.spool.enqueue(route, delivery))
            .await
            .map_err(|_| SpoolError::Storage("the write did not finish within 5s".into()))?;
        self.metrics
            .spool
            .write_seconds
            .observe(started.elapsed().as_secs_f64());
        if written.is_ok() {
            self.wake.notify_one();
        }
        written
    }
}
