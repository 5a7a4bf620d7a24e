//! `/metrics` in the Prometheus (OpenMetrics) text format: requests and their
//! latencies per route, records per city and outcome, component calls and traps
//! per city, and how many instances each city has running right now.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::AppState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route pattern (`/v1/cities/{city}/events`), never the raw path.
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RecordLabels {
    city: String,
    /// `recorded`, `duplicate`, `not_recorded` or `rejected`.
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    city: String,
    /// `record`, `record-batch`, `events`, `summary` or `me`.
    call: String,
    /// `ok` (the component answered), `trap` or `error` (storage or host failure).
    result: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CityLabels {
    city: String,
}

fn latency_histogram() -> Histogram {
    // 100 µs to about 26 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 19))
}

/// Every metric of the server, registered once.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    records: Family<RecordLabels, Counter>,
    calls: Family<CallLabels, Counter>,
    traps: Family<CityLabels, Counter>,
    instances: Family<CityLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("usage");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let records = Family::<RecordLabels, Counter>::default();
        let calls = Family::<CallLabels, Counter>::default();
        let traps = Family::<CityLabels, Counter>::default();
        let instances = Family::<CityLabels, Gauge>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response, by route",
            latency.clone(),
        );
        registry.register(
            "records",
            "Facts posted, by city and what became of them",
            records.clone(),
        );
        registry.register(
            "component_calls",
            "Calls into the usage component, by city, export and result",
            calls.clone(),
        );
        registry.register(
            "traps",
            "Component instances that trapped (each answered 500 and was dropped)",
            traps.clone(),
        );
        registry.register(
            "instances",
            "Component calls in flight, by city: each runs in a fresh instance of its own (counted from the request, so waiting for a pool slot or the city's writer lock is included)",
            instances.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            records,
            calls,
            traps,
            instances,
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    pub fn record_outcome(&self, city: &str, status: &str, count: u64) {
        if count > 0 {
            self.records
                .get_or_create(&RecordLabels {
                    city: city.to_owned(),
                    status: status.to_owned(),
                })
                .inc_by(count);
        }
    }

    pub fn call_finished(&self, city: &str, call: &str, result: &str) {
        self.calls
            .get_or_create(&CallLabels {
                city: city.to_owned(),
                call: call.to_owned(),
                result: result.to_owned(),
            })
            .inc();
        if result == "trap" {
            self.traps
                .get_or_create(&CityLabels {
                    city: city.to_owned(),
                })
                .inc();
        }
    }

    /// Counts one instance of `city` as running until the guard drops.
    pub fn instance(&self, city: &str) -> InstanceGuard {
        let gauge = self.instances.get_or_create_owned(&CityLabels {
            city: city.to_owned(),
        });
        gauge.inc();
        InstanceGuard(gauge)
    }

    fn request_done(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }
}

/// Decrements a city's instance gauge when dropped (also on panic or cancellation).
pub struct InstanceGuard(Gauge);

impl Drop for InstanceGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Middleware: counts every request and its latency under its route pattern.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    state.metrics.request_done(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_family_with_its_labels() {
        let m = Metrics::new();
        m.record_outcome("acme", "recorded", 3);
        m.call_finished("acme", "record-batch", "trap");
        let guard = m.instance("acme");
        m.request_done("GET", "/healthz", 200, 0.001);
        let text = m.render();
        assert!(
            text.contains(r#"usage_records_total{city="acme",status="recorded"} 3"#),
            "{text}"
        );
        assert!(
            text.contains(r#"usage_traps_total{city="acme"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"usage_instances{city="acme"} 1"#), "{text}");
        assert!(
            text.contains(
                r#"usage_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
            ),
            "{text}"
        );
        drop(guard);
        assert!(m.render().contains(r#"usage_instances{city="acme"} 0"#));
    }
}
