//! The Prometheus families, `hookguard_` prefixed. Label values come from the config (route names)
//! or fixed sets (outcomes, reasons, statuses); a request's path never becomes a label, so no client
//! can grow the series count.

use std::cell::RefCell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::LocalKey;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use super::process::ProcessCollector;

/// The route label of requests that matched no route.
pub const UNMATCHED: &str = "-";

/// A route label shared by reference, so counting a request allocates nothing.
pub type Label = Arc<String>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: Label,
    pub outcome: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub route: Label,
    pub reason: &'static str,
}

/// A refusal: its status and the reason its log line gives.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    pub route: Label,
    pub status: u16,
    pub reason: &'static str,
}

/// Which of a route's secrets verified a delivery, by position in its `secrets` list.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SecretLabels {
    pub route: Label,
    pub secret: usize,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DedupLabels {
    pub route: Label,
    /// `claimed`, `duplicate`, `in_flight` or `unavailable`.
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    commit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SpoolStateLabels {
    pub route: String,
    /// `pending`, `in_flight` or `dead`.
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SpoolRouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    pub route: String,
    /// `delivered`, `retry` or `dead`.
    pub result: &'static str,
}

/// The store-and-forward families; the gauges are refreshed from the spool's counts.
pub struct SpoolMetrics {
    pub deliveries: Family<SpoolStateLabels, Gauge>,
    pub oldest_pending_seconds: Family<SpoolRouteLabels, Gauge<f64, AtomicU64>>,
    pub bytes: Gauge,
    pub attempts: Family<AttemptLabels, Counter>,
    pub write_seconds: Histogram,
}

impl SpoolMetrics {
    fn register(registry: &mut Registry) -> Self {
        let deliveries = Family::<SpoolStateLabels, Gauge>::default();
        registry.register(
            "spool_deliveries",
            "Queued deliveries in the spool, by route and state (pending, in_flight, dead)",
            deliveries.clone(),
        );
        let oldest_pending_seconds = Family::<SpoolRouteLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "spool_oldest_pending_seconds",
            "Age since receipt of the oldest pending delivery, by route; 0 when none waits",
            oldest_pending_seconds.clone(),
        );
        let bytes = Gauge::default();
        registry.register(
            "spool_bytes",
            "Bytes the spool holds, bodies and records, as counted against spool.max_bytes",
            bytes.clone(),
        );
        let attempts = Family::<AttemptLabels, Counter>::default();
        registry.register(
            "delivery_attempts",
            "Attempts to deliver queued deliveries to the app, by route and result",
            attempts.clone(),
        );
        // 0.1 ms to about 3 s: a group commit on a local disk takes milliseconds.
        let write_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register(
            "spool_write_seconds",
            "Time to write a delivery to the spool durably, the fsync included",
            write_seconds.clone(),
        );
        SpoolMetrics {
            deliveries,
            oldest_pending_seconds,
            bytes,
            attempts,
            write_seconds,
        }
    }
}

pub struct Metrics {
    /// Tells this set of families from any other in the process, for the per-thread series caches.
    id: u64,
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub verification_failures: Family<FailureLabels, Counter>,
    pub upstream_duration: Family<RouteLabels, Histogram>,
    pub in_flight: Gauge<i64, AtomicI64>,
    pub reloads: Family<ReloadLabels, Counter>,
    /// When the config in force was loaded: at start, then at each successful reload.
    pub last_reload_success: Gauge<f64, AtomicU64>,
    pub refusals: Family<RefusalLabels, Counter>,
    pub secret_matches: Family<SecretLabels, Counter>,
    pub dedup: Family<DedupLabels, Counter>,
    pub rate_limited: Family<RouteLabels, Counter>,
    pub spool: SpoolMetrics,
    pub unmatched_label: Label,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut root = Registry::default();
        // The process families keep their standard unprefixed names.
        root.register_collector(Box::new(ProcessCollector::new()));
        let registry = root.sub_registry_with_prefix("hookguard");
        registry.register(
            "build",
            "The version and commit of this binary",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                commit: crate::COMMIT,
            }),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by route, outcome and status",
            requests.clone(),
        );
        let verification_failures = Family::<FailureLabels, Counter>::default();
        registry.register(
            "verification_failures",
            "Requests whose verification failed, by route and reason (shadow mode included)",
            verification_failures.clone(),
        );
        // 0.5 ms to about 66 s: a local app answers in milliseconds; the top buckets reach past the
        // 30 s default upstream_timeout, so a raised timeout still shows where answers fall.
        let upstream_duration = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 18))
        });
        registry.register(
            "upstream_duration_seconds",
            "Time from sending a request to the app until its response head arrived",
            upstream_duration.clone(),
        );
        let in_flight = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "requests_in_flight",
            "Requests being served now",
            in_flight.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "config_reloads",
            "Config reloads, by result",
            reloads.clone(),
        );
        // Both series exist from the start, so an alert on failures works before the first one.
        for result in ["success", "failure"] {
            drop(reloads.get_or_create(&ReloadLabels { result }));
        }
        let last_reload_success = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "config_last_reload_success_timestamp_seconds",
            "When the config in force was loaded, at start or by a reload, in seconds since the epoch",
            last_reload_success.clone(),
        );
        last_reload_success.set(seconds_since_epoch());
        let refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "refusals",
            "Requests hookguard refused itself, by route, status and reason",
            refusals.clone(),
        );
        let secret_matches = Family::<SecretLabels, Counter>::default();
        registry.register(
            "secret_matches",
            "Verified deliveries by the position of the secret that verified them, so an unused rotation secret shows",
            secret_matches.clone(),
        );
        let dedup = Family::<DedupLabels, Counter>::default();
        registry.register(
            "dedup_claims",
            "Dedup claims on routes with dedup, by result (claimed, duplicate, in_flight, unavailable)",
            dedup.clone(),
        );
        let rate_limited = Family::<RouteLabels, Counter>::default();
        registry.register(
            "rate_limited",
            "Requests refused by the route's rate_limit",
            rate_limited.clone(),
        );
        let spool = SpoolMetrics::register(registry);
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Metrics {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            last_reload_success,
            refusals,
            secret_matches,
            dedup,
            rate_limited,
            spool,
            unmatched_label: Arc::new(UNMATCHED.to_string()),
            registry: root,
            requests,
            verification_failures,
            upstream_duration,
            in_flight,
            reloads,
        }
    }

    /// The Prometheus text exposition of every family.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Counts one answered request: the same series as `requests.get_or_create(labels)`.
    pub fn count_request(&self, labels: &RequestLabels) {
        with_series(
            &RECENT_REQUESTS,
            self.id,
            &self.requests,
            labels,
            |counter| {
                counter.inc();
            },
        );
    }

    /// Counts a verified delivery under the secret that verified it.
    pub fn count_secret_match(&self, labels: &SecretLabels) {
        with_series(
            &RECENT_SECRETS,
            self.id,
            &self.secret_matches,
            labels,
            |counter| {
                counter.inc();
            },
        );
    }

    /// Records how long the app took to answer on a route.
    pub fn observe_upstream(&self, labels: &RouteLabels, seconds: f64) {
        with_series(
            &RECENT_UPSTREAMS,
            self.id,
            &self.upstream_duration,
            labels,
            |histogram| histogram.observe(seconds),
        );
    }

    pub fn reload(&self, succeeded: bool) {
        let result = if succeeded { "success" } else { "failure" };
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
        if succeeded {
            self.last_reload_success.set(seconds_since_epoch());
        }
    }
}

/// The series a worker thread used last, keyed by the `Metrics` they belong to and their labels.
type Recent<S, M> = RefCell<Vec<(u64, S, M)>>;

/// Series kept per thread and family; beyond this the oldest is replaced. A worker serving a few
/// routes finds every series it counts here.
const RECENT_SERIES: usize = 16;

thread_local! {
    static RECENT_REQUESTS: Recent<RequestLabels, Counter> = const { RefCell::new(Vec::new()) };
    static RECENT_SECRETS: Recent<SecretLabels, Counter> = const { RefCell::new(Vec::new()) };
    static RECENT_UPSTREAMS: Recent<RouteLabels, Histogram> = const { RefCell::new(Vec::new()) };
}

/// Runs `record` on the family's series for `labels`. `get_or_create` hashes the labels with
/// SipHash, takes a read lock and probes the map: about 1,700 instructions per request over the
/// three per-request families (callgrind, bench/callgrind.sh). A series once created lives as long
/// as its family (none is ever removed), so a clone kept per thread is that same series; labels
/// compare cheaply, their route being the same `Arc` as a rule (`Arc`'s `==` checks the pointer
/// first).
fn with_series<S, M, C>(
    recent: &'static LocalKey<Recent<S, M>>,
    family_id: u64,
    family: &Family<S, M, C>,
    labels: &S,
    record: impl FnOnce(&M),
) where
    S: Clone + Eq + std::hash::Hash + 'static,
    M: Clone + 'static,
    C: MetricConstructor<M>,
{
    let mut record = Some(record);
    // Nothing kept on this thread (it is exiting, or a caller up the stack holds the cache): the
    // family itself is used below.
    let _ = recent.try_with(|cell| {
        let Ok(mut series) = cell.try_borrow_mut() else {
            return;
        };
        let Some(record) = record.take() else {
            return;
        };
        match series
            .iter()
            .find(|(id, kept, _)| *id == family_id && kept == labels)
        {
            Some((_, _, metric)) => record(metric),
            None => {
                let metric = family.get_or_create(labels).clone();
                record(&metric);
                if series.len() >= RECENT_SERIES {
                    series.remove(0);
                }
                series.push((family_id, labels.clone(), metric));
            }
        }
    });
    if let Some(record) = record {
        record(&family.get_or_create(labels));
    }
}

fn seconds_since_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(route: &Label, status: u16) -> RequestLabels {
        RequestLabels {
            route: Label::clone(route),
            outcome: "forwarded",
            status,
        }
    }

    fn count_of(metrics: &Metrics, labels: &RequestLabels) -> u64 {
        metrics.requests.get_or_create(labels).get()
    }

    /// The per-thread cache counts into the same series `get_or_create` finds, for each `Metrics`
    /// of its own, however many series pass through it and whether the route's label is the same
    /// `Arc` or an equal one.
    #[test]
    fn cached_series_are_the_familys_own() {
        let (first, second) = (Metrics::new(), Metrics::new());
        let route: Label = Arc::new("gh".to_string());
        let statuses: Vec<u16> = (200..200 + 2 * RECENT_SERIES as u16).collect();
        for _ in 0..3 {
            for &status in &statuses {
                first.count_request(&request(&route, status));
            }
        }
        second.count_request(&request(&Arc::new("gh".to_string()), 200));
        for &status in &statuses {
            assert_eq!(count_of(&first, &request(&route, status)), 3, "{status}");
        }
        assert_eq!(count_of(&second, &request(&route, 200)), 1);
        assert_eq!(count_of(&second, &request(&route, 201)), 0);

        let labels = RouteLabels { route };
        first.observe_upstream(&labels, 0.25);
        first.observe_upstream(&labels, 0.25);
        assert!(first
            .encode()
            .contains("hookguard_upstream_duration_seconds_count{route=\"gh\"} 2"));
        first.count_secret_match(&SecretLabels {
            route: labels.route,
            secret: 1,
        });
        assert!(first
            .encode()
            .contains("hookguard_secret_matches_total{route=\"gh\",secret=\"1\"} 1"));
    }
}
