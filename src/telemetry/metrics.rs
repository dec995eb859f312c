//! Prometheus metrics of one server: a registry per `Metrics` (no process
//! global, so two servers in one process count apart) and one method per
//! thing counted. Other parts hold a clone and call these methods:
//!
//! - the receiver: `push_answered`;
//! - GraphQL (the `GraphqlMetrics` extension): `graphql_operation`,
//!   `subscription_opened` (the guard it returns counts it closed),
//!   `events_delivered`;
//! - the events fan-out: `lag_counters` (events conflated or dropped for
//!   a slow subscriber);
//! - reconciliation: `reconciliation`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Distinct GraphQL operation names kept as labels; later ones count as "other".
const MAX_OPERATION_NAMES: usize = 200;

/// Latency buckets, in seconds, from 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The metrics of one server; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    pushes: IntCounterVec,
    push_seconds: HistogramVec,
    inbox_rejects: IntCounterVec,
    rate_limited: IntCounterVec,
    open_subscriptions: IntGauge,
    events_delivered: IntCounterVec,
    events_conflated: IntCounterVec,
    events_dropped: IntCounterVec,
    reconciliations: IntCounterVec,
    graphql_operations: IntCounterVec,
    graphql_seconds: HistogramVec,
    operation_names: Mutex<HashSet<String>>,
}

/// Labels of one answered push.
#[derive(Debug, Clone, Copy)]
pub struct PushLabels<'a> {
    /// locations, sessions, cdrs, tariffs, notifications, or "unknown".
    pub module: &'a str,
    /// 2.1.1, 2.2.1, or "unknown".
    pub version: &'a str,
    /// created, updated, unchanged, rejected, unauthorized, rate_limited, ...
    pub outcome: &'a str,
    /// The HTTP status answered.
    pub http_status: u16,
    /// The OCPI status code answered.
    pub status_code: u16,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// The conflation and loss counters of one subscription field, resolved once
/// per subscriber so that the fan-out counts without a label lookup.
#[derive(Clone)]
pub struct LagCounters {
    conflated: IntCounter,
    dropped: IntCounter,
}

impl LagCounters {
    /// Counts one event merged into a later one of the same object.
    pub fn conflated(&self) {
        self.conflated.inc();
    }

    /// Counts one event a lagging subscriber will not get live.
    pub fn dropped(&self) {
        self.dropped.inc();
    }
}

impl Metrics {
    /// A fresh registry with every chargegraph metric at zero.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let vec = IntCounterVec::new(Opts::new(name, help), labels)
                .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
            registry
                .register(Box::new(vec.clone()))
                .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
            vec
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let opts = HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec());
            let vec = HistogramVec::new(opts, labels)
                .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
            registry
                .register(Box::new(vec.clone()))
                .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
            vec
        };
        let open_subscriptions = IntGauge::new(
            "chargegraph_open_subscriptions",
            "GraphQL subscriptions open now",
        )
        .unwrap_or_else(|e| unreachable!("metric: {e}"));
        registry
            .register(Box::new(open_subscriptions.clone()))
            .unwrap_or_else(|e| unreachable!("metric: {e}"));
        let inner = Inner {
            pushes: counter(
                "chargegraph_pushes_total",
                "OCPI pushes answered, by module, version, outcome and status",
                &["module", "version", "outcome", "http_status", "status_code"],
            ),
            push_seconds: histogram(
                "chargegraph_push_duration_seconds",
                "Time from receiving an OCPI push to answering it",
                &["module"],
            ),
            inbox_rejects: counter(
                "chargegraph_inbox_rejects_total",
                "Pushes refused for their content and kept in the inbox for review",
                &["module", "status_code"],
            ),
            rate_limited: counter(
                "chargegraph_rate_limited_total",
                "Requests refused by a rate limit",
                &["surface"],
            ),
            open_subscriptions,
            events_delivered: counter(
                "chargegraph_events_delivered_total",
                "Subscription events sent to subscribers",
                &["subscription"],
            ),
            events_conflated: counter(
                "chargegraph_events_conflated_total",
                "Events merged into a later one before delivery",
                &["subscription"],
            ),
            events_dropped: counter(
                "chargegraph_events_dropped_total",
                "Events a slow subscriber missed live (its subscription ended with SUBSCRIBER_LAGGED)",
                &["subscription"],
            ),
            reconciliations: counter(
                "chargegraph_reconciliations_total",
                "Objects compared by reconciliation, by module and result",
                &["module", "result"],
            ),
            graphql_operations: counter(
                "chargegraph_graphql_operations_total",
                "GraphQL operations executed, by name and outcome",
                &["operation", "outcome"],
            ),
            graphql_seconds: histogram(
                "chargegraph_graphql_duration_seconds",
                "Time to execute a GraphQL operation",
                &["operation"],
            ),
            operation_names: Mutex::new(HashSet::new()),
            registry,
        };
        Metrics {
            inner: Arc::new(inner),
        }
    }

    /// Counts an answered push and its latency.
    pub fn push_answered(&self, labels: PushLabels<'_>, elapsed: Duration) {
        let (http, code) = (
            labels.http_status.to_string(),
            labels.status_code.to_string(),
        );
        let values = [labels.module, labels.version, labels.outcome, &http, &code];
        self.inner.pushes.with_label_values(&values).inc();
        self.inner
            .push_seconds
            .with_label_values(&[labels.module])
            .observe(elapsed.as_secs_f64());
        if labels.outcome == "rejected" {
            let values = [labels.module, code.as_str()];
            self.inner.inbox_rejects.with_label_values(&values).inc();
        }
    }

    /// Counts a request refused by a rate limit (`ocpi` or `graphql`).
    pub fn rate_limited(&self, surface: &str) {
        self.inner.rate_limited.with_label_values(&[surface]).inc();
    }

    /// Counts a subscription open until the returned guard is dropped.
    pub fn subscription_opened(&self) -> SubscriptionGuard {
        self.inner.open_subscriptions.inc();
        SubscriptionGuard {
            gauge: self.inner.open_subscriptions.clone(),
        }
    }

    /// Counts events sent to a subscriber of `subscription` (a field name).
    pub fn events_delivered(&self, subscription: &str, n: u64) {
        let c = self
            .inner
            .events_delivered
            .with_label_values(&[subscription]);
        c.inc_by(n);
    }

    /// The counters of events merged or missed by a slow subscriber of
    /// `subscription` (a field name).
    pub fn lag_counters(&self, subscription: &str) -> LagCounters {
        LagCounters {
            conflated: self
                .inner
                .events_conflated
                .with_label_values(&[subscription]),
            dropped: self.inner.events_dropped.with_label_values(&[subscription]),
        }
    }

    /// Counts reconciled objects of a module by result (matched, missing, healed, ...).
    pub fn reconciliation(&self, module: &str, result: &str, n: u64) {
        let c = self
            .inner
            .reconciliations
            .with_label_values(&[module, result]);
        c.inc_by(n);
    }

    /// Counts one executed GraphQL operation and its latency.
    pub fn graphql_operation(&self, name: Option<&str>, ok: bool, elapsed: Duration) {
        let name = self.operation_label(name);
        let outcome = if ok { "ok" } else { "error" };
        let values = [name.as_str(), outcome];
        self.inner
            .graphql_operations
            .with_label_values(&values)
            .inc();
        self.inner
            .graphql_seconds
            .with_label_values(&[name.as_str()])
            .observe(elapsed.as_secs_f64());
    }

    /// Client-chosen names become labels only while there are few of them.
    fn operation_label(&self, name: Option<&str>) -> String {
        let Some(name) = name.filter(|n| is_plain_name(n)) else {
            return "anonymous".into();
        };
        let Ok(mut names) = self.inner.operation_names.lock() else {
            return "other".into();
        };
        if names.contains(name) || names.len() < MAX_OPERATION_NAMES {
            names.insert(name.to_owned());
            name.to_owned()
        } else {
            "other".into()
        }
    }

    /// Every metric in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let families = self.inner.registry.gather();
        if let Err(err) = TextEncoder::new().encode(&families, &mut out) {
            tracing::error!(error = %err, "cannot encode metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

fn is_plain_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Keeps a subscription counted as open; dropping it counts it closed.
pub struct SubscriptionGuard {
    gauge: IntGauge,
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_in_the_text_format() {
        let metrics = Metrics::new();
        let labels = PushLabels {
            module: "locations",
            version: "2.1.1",
            outcome: "rejected",
            http_status: 200,
            status_code: 2001,
        };
        metrics.push_answered(labels, Duration::from_millis(3));
        let guard = metrics.subscription_opened();
        let text = metrics.render();
        assert!(text.contains(
            "chargegraph_pushes_total{http_status=\"200\",module=\"locations\",outcome=\"rejected\",status_code=\"2001\",version=\"2.1.1\"} 1"
        ), "{text}");
        assert!(text.contains(
            "chargegraph_inbox_rejects_total{module=\"locations\",status_code=\"2001\"} 1"
        ));
        assert!(text.contains("chargegraph_open_subscriptions 1"));
        drop(guard);
        assert!(metrics
            .render()
            .contains("chargegraph_open_subscriptions 0"));
    }

    #[test]
    fn odd_or_too_many_operation_names_are_folded() {
        let metrics = Metrics::new();
        assert_eq!(metrics.operation_label(Some("Board")), "Board");
        assert_eq!(metrics.operation_label(Some("a b")), "anonymous");
        assert_eq!(metrics.operation_label(None), "anonymous");
        for i in 0..MAX_OPERATION_NAMES {
            metrics.operation_label(Some(&format!("Op{i}")));
        }
        assert_eq!(metrics.operation_label(Some("Board")), "Board");
        assert_eq!(metrics.operation_label(Some("Late")), "other");
    }
}
