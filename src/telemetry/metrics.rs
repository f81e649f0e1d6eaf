//! The Prometheus families, `hookguard_` prefixed. Label values come from the config (route names)
//! or fixed sets (outcomes, reasons, statuses); a request's path never becomes a label, so no client
//! can grow the series count.

use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
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
        Metrics {
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

    pub fn reload(&self, succeeded: bool) {
        let result = if succeeded { "success" } else { "failure" };
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
        if succeeded {
            self.last_reload_success.set(seconds_since_epoch());
        }
    }
}

fn seconds_since_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}
