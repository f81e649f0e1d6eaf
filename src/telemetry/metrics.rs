//! The Prometheus families, `hookguard_` prefixed. Label values come from the config (route names)
//! or fixed sets (outcomes, reasons, statuses); a request's path never becomes a label, so no client
//! can grow the series count.

use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    pub result: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub verification_failures: Family<FailureLabels, Counter>,
    pub upstream_duration: Family<RouteLabels, Histogram>,
    pub in_flight: Gauge<i64, AtomicI64>,
    pub reloads: Family<ReloadLabels, Counter>,
    pub unmatched_label: Label,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("hookguard");
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
        // 0.5 ms to about 16 s: a local app answers in milliseconds, a slow one within upstream_timeout.
        let upstream_duration = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
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
        Metrics {
            unmatched_label: Arc::new(UNMATCHED.to_string()),
            registry,
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
    }
}
