//! The dispatcher: for every queue route in the config in force, claims due deliveries up to the
//! route's `concurrency`, attempts each, and records the outcome (delivered, retry on the
//! schedule, or a dead letter). It also keeps the spool gauges fresh and removes dead letters
//! past their retention. On stop it claims no more and gives attempts in flight the grace period.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::attempt::{self, Verdict};
use super::queue::Queue;
use super::spool::{AttemptEnd, DeadReason, Delivery, Spool, SpoolCounts};
use crate::config::{DeliveryMode, Live, LiveConfig, QueuePolicy};
use crate::telemetry::metrics::{AttemptLabels, Metrics, SpoolRouteLabels, SpoolStateLabels};

/// How often due deliveries are looked for without a wake-up: retries fall due on their own, and
/// replicas sharing Redis do not wake each other.
const POLL: Duration = Duration::from_millis(250);
const GAUGE_REFRESH: Duration = Duration::from_secs(2);
const PURGE_EVERY: u32 = 30;
/// A replica that holds a delivery this much past its `attempt_timeout` has died.
const STALE_MARGIN: Duration = Duration::from_secs(10);

pub struct Dispatcher {
    pub live: Arc<LiveConfig>,
    pub queue: Arc<Queue>,
    pub metrics: Arc<Metrics>,
    pub dead_letter_retention: Duration,
}

/// A store that is down fails every poll; one warning per this long says so without flooding.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// When the dispatcher last warned that the spool failed.
#[derive(Default)]
struct Warned(std::cell::Cell<Option<std::time::Instant>>);

impl Warned {
    fn due(&self) -> bool {
        let due = self.0.get().is_none_or(|at| at.elapsed() >= WARN_EVERY);
        if due {
            self.0.set(Some(std::time::Instant::now()));
        }
        due
    }
}

/// A route's attempt slots; remade when its `concurrency` changes on reload.
struct Slots {
    concurrency: usize,
    free: Arc<Semaphore>,
}

/// How much less CPU the dispatcher gets than the threads that answer senders when both want
/// it (a nice value: each step is about 10% less): a sender waiting for its 200 goes first.
const DISPATCH_NICENESS: i32 = 10;

impl Dispatcher {
    /// Runs the dispatcher on a thread of its own at a lower CPU priority than the workers, so
    /// under load accepting deliveries wins over delivering them; when the CPU is free it runs
    /// at full speed. Deliveries it has not made yet are safe in the spool.
    pub fn spawn_thread(
        self,
        stop: watch::Receiver<bool>,
        grace: Duration,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("dispatcher".into())
            .spawn(move || {
                lower_this_threads_priority();
                runtime.block_on(self.run(stop, grace));
            })
    }

    /// Runs until `stop` turns true, then waits up to `grace` for attempts in flight. Those
    /// still unfinished stay in flight in the spool: the next start (or another replica) takes
    /// them again.
    pub async fn run(self, mut stop: watch::Receiver<bool>, grace: Duration) {
        let mut attempts = JoinSet::new();
        let mut slots: HashMap<String, Slots> = HashMap::new();
        let mut gauges = tokio::time::interval(GAUGE_REFRESH);
        let mut ticks = 0u32;
        let warned = Warned::default();
        while !*stop.borrow() {
            self.claim_due(&mut slots, &mut attempts, &warned).await;
            tokio::select! {
                () = self.queue.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
                Some(_) = attempts.join_next(), if !attempts.is_empty() => {}
                _ = gauges.tick() => {
                    ticks = ticks.wrapping_add(1);
                    self.refresh_gauges(&warned).await;
                    if ticks % PURGE_EVERY == 1 {
                        self.purge_old_dead_letters().await;
                    }
                }
                _ = stop.changed() => {}
            }
        }
        let in_flight = attempts.len();
        let drained = tokio::time::timeout(grace, async {
            while attempts.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                in_flight,
                "attempts still running at the end of shutdown_grace stay spooled"
            );
        }
    }

    async fn claim_due(
        &self,
        slots: &mut HashMap<String, Slots>,
        attempts: &mut JoinSet<()>,
        warned: &Warned,
    ) {
        let live = self.live.load();
        for (index, route) in live.config.routes.iter().enumerate() {
            let DeliveryMode::Queue(policy) = &route.delivery else {
                continue;
            };
            let slot = slots
                .entry(route.name.clone())
                .and_modify(|slot| {
                    if slot.concurrency != policy.concurrency {
                        *slot = Slots::new(policy.concurrency);
                    }
                })
                .or_insert_with(|| Slots::new(policy.concurrency));
            // The slots are taken before the claim, so every claimed delivery has one.
            let permits: Vec<OwnedSemaphorePermit> =
                std::iter::from_fn(|| Arc::clone(&slot.free).try_acquire_owned().ok()).collect();
            if permits.is_empty() {
                continue;
            }
            let stale_after = policy.attempt_timeout + STALE_MARGIN;
            let claimed = self
                .queue
                .spool
                .claim(&route.name, SystemTime::now(), permits.len(), stale_after)
                .await;
            let claimed = match claimed {
                Ok(claimed) => claimed,
                Err(error) => {
                    if warned.due() {
                        tracing::warn!(route = %route.name, %error, "cannot read the spool");
                    }
                    continue;
                }
            };
            for (delivery, permit) in claimed.into_iter().zip(permits) {
                let attempt = Attempt {
                    live: Arc::clone(&live),
                    route_index: index,
                    queue: Arc::clone(&self.queue),
                    metrics: Arc::clone(&self.metrics),
                    _permit: permit,
                };
                attempts.spawn(attempt.run(delivery));
            }
        }
    }

    async fn refresh_gauges(&self, warned: &Warned) {
        let counts = match self.queue.spool.counts(SystemTime::now()).await {
            Ok(counts) => counts,
            Err(error) => {
                if warned.due() {
                    tracing::warn!(%error, "cannot count the spool");
                }
                return;
            }
        };
        let live = self.live.load();
        let queue_routes = live
            .config
            .routes
            .iter()
            .filter(|route| matches!(route.delivery, DeliveryMode::Queue(_)))
            .map(|route| route.name.clone());
        set_gauges(&self.metrics, &counts, queue_routes);
    }

    async fn purge_old_dead_letters(&self) {
        let Some(before) = SystemTime::now().checked_sub(self.dead_letter_retention) else {
            return;
        };
        match self.queue.spool.purge_dead(before).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "dead letters past their retention removed"),
            Err(error) => tracing::warn!(%error, "cannot remove old dead letters"),
        }
    }
}

/// On Linux the nice value is per thread, and `setpriority` for "this process" sets the calling
/// thread's. Raising it needs no privilege; should it fail, the dispatcher just keeps the same
/// priority as everything else.
fn lower_this_threads_priority() {
    if let Err(error) = rustix::process::setpriority_process(None, DISPATCH_NICENESS) {
        tracing::warn!(%error, "cannot lower the dispatcher's priority");
    }
}

impl Slots {
    fn new(concurrency: usize) -> Self {
        Slots {
            concurrency,
            free: Arc::new(Semaphore::new(concurrency)),
        }
    }
}

/// Every queue route gets its series, zero when the spool holds nothing for it.
fn set_gauges(metrics: &Metrics, counts: &SpoolCounts, queue_routes: impl Iterator<Item = String>) {
    let spool = &metrics.spool;
    spool
        .bytes
        .set(i64::try_from(counts.bytes).unwrap_or(i64::MAX));
    let mut names: Vec<String> = counts.routes.keys().cloned().collect();
    names.extend(queue_routes);
    names.sort();
    names.dedup();
    for route in names {
        let found = counts.routes.get(&route).cloned().unwrap_or_default();
        for (state, value) in [
            ("pending", found.pending),
            ("in_flight", found.in_flight),
            ("dead", found.dead),
        ] {
            spool
                .deliveries
                .get_or_create(&SpoolStateLabels {
                    route: route.clone(),
                    state,
                })
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        }
        spool
            .oldest_pending_seconds
            .get_or_create(&SpoolRouteLabels { route })
            .set(found.oldest_pending_age.as_secs_f64());
    }
}

/// One claimed delivery on its way to the app, holding one of its route's slots.
struct Attempt {
    live: Arc<Live>,
    route_index: usize,
    queue: Arc<Queue>,
    metrics: Arc<Metrics>,
    _permit: OwnedSemaphorePermit,
}

impl Attempt {
    async fn run(self, delivery: Delivery) {
        let Some(route) = self.live.config.routes.get(self.route_index) else {
            return;
        };
        let DeliveryMode::Queue(policy) = &route.delivery else {
            return;
        };
        let number = delivery.attempt.saturating_add(1);
        let verdict =
            attempt::send(&self.live, route, &delivery, number, policy.attempt_timeout).await;
        let (result, status, error, recorded) =
            self.record(policy, &delivery, number, verdict).await;
        // Named as the request line is (OpenTelemetry's names in JSON, short ones in text).
        tracing::info!(
            hookguard.route = %route.name,
            hookguard.id = %delivery.id,
            hookguard.attempt = number,
            http.response.status_code = status,
            hookguard.error = error,
            hookguard.result = %result,
            "delivery attempt"
        );
        self.metrics
            .spool
            .attempts
            .get_or_create(&AttemptLabels {
                route: route.name.clone(),
                result,
            })
            .inc();
        if let Err(error) = recorded {
            tracing::error!(route = %route.name, id = %delivery.id, %error, "cannot record the attempt in the spool");
        }
        self.queue.wake.notify_one();
    }

    /// Writes the verdict to the spool; returns the result label, the status and error for the
    /// log line, and whether the write held.
    async fn record(
        &self,
        policy: &QueuePolicy,
        delivery: &Delivery,
        number: u32,
        verdict: Verdict,
    ) -> (
        &'static str,
        Option<u16>,
        Option<String>,
        Result<(), super::SpoolError>,
    ) {
        let spool = &self.queue.spool;
        match verdict {
            Verdict::Delivered(status) => (
                "delivered",
                Some(status.as_u16()),
                None,
                spool.delivered(&delivery.id).await,
            ),
            Verdict::Rejected(end) => {
                let shown = (end.status, Some(end.error.clone()));
                let recorded = spool
                    .dead(&delivery.id, DeadReason::Rejected, Some(end))
                    .await;
                ("dead", shown.0, shown.1, recorded)
            }
            Verdict::Retry { end, retry_after } => {
                let shown = (end.status, Some(end.error.clone()));
                let (result, recorded) =
                    retry_or_expire(spool, policy, delivery, number, end, retry_after).await;
                (result, shown.0, shown.1, recorded)
            }
        }
    }
}

/// The next attempt after the schedule's wait (or the app's longer `Retry-After`), but no later
/// than `max_age`, so the last attempt falls on it; at or past `max_age`, a dead letter.
async fn retry_or_expire(
    spool: &impl Spool,
    policy: &QueuePolicy,
    delivery: &Delivery,
    number: u32,
    end: AttemptEnd,
    retry_after: Option<Duration>,
) -> (&'static str, Result<(), super::SpoolError>) {
    let now = SystemTime::now();
    let deadline = delivery.age_from + policy.max_age;
    if now >= deadline {
        let recorded = spool
            .dead(&delivery.id, DeadReason::Expired, Some(end))
            .await;
        return ("dead", recorded);
    }
    let wait = policy
        .wait_after(number)
        .max(retry_after.unwrap_or_default());
    let due = (now + wait).min(deadline);
    ("retry", spool.retry(&delivery.id, due, end).await)
}
