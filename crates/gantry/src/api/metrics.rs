//! Prometheus metrics: records and warnings stored, HTTP requests by route.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use gantry_store::WriteSummary;
use metrics::{counter, describe_counter, describe_histogram, histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const RECORDS_ACCEPTED: &str = "gantry_records_accepted_total";
pub const RECORDS_REJECTED: &str = "gantry_records_rejected_total";
pub const RECORDS_DUPLICATE: &str = "gantry_records_duplicate_total";
pub const WARNINGS: &str = "gantry_warnings_total";
pub const HTTP_REQUESTS: &str = "gantry_http_requests_total";
pub const HTTP_DURATION: &str = "gantry_http_request_duration_seconds";

/// Upper bounds of the request latency buckets, seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls do nothing).
pub fn install() {
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), &LATENCY_BUCKETS)
            .ok()?
            .install_recorder()
            .ok()?;
        describe_counter!(RECORDS_ACCEPTED, "Passes stored for the first time.");
        describe_counter!(RECORDS_REJECTED, "Input rows rejected as unreadable.");
        describe_counter!(
            RECORDS_DUPLICATE,
            "Passes skipped because their GCXH was stored already (counted by the demo's pipeline only)."
        );
        describe_counter!(WARNINGS, "Cloned-plate warnings stored.");
        describe_counter!(HTTP_REQUESTS, "HTTP requests by method, route and status.");
        describe_histogram!(HTTP_DURATION, Unit::Seconds, "HTTP request latency by method and route.");
        for name in [RECORDS_ACCEPTED, RECORDS_REJECTED, RECORDS_DUPLICATE, WARNINGS] {
            counter!(name).increment(0);
        }
        Some(handle)
    });
}

/// The metrics in Prometheus' text format.
pub fn render() -> String {
    install();
    HANDLE
        .get()
        .and_then(Option::as_ref)
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}

/// Housekeeping the exporter needs now and then (the poller calls it).
pub fn upkeep() {
    if let Some(handle) = HANDLE.get().and_then(Option::as_ref) {
        handle.run_upkeep();
    }
}

/// Counts what one batch write stored.
pub fn record_write(summary: &WriteSummary) {
    counter!(RECORDS_ACCEPTED).increment(summary.inserted);
    counter!(RECORDS_DUPLICATE).increment(summary.duplicates);
    counter!(RECORDS_REJECTED).increment(summary.rejected);
    counter!(WARNINGS).increment(summary.warnings_inserted);
}

/// Sets the totals from the store itself (`serve`, where another process writes).
pub fn set_store_totals(accepted: u64, rejected: u64, warnings: u64) {
    counter!(RECORDS_ACCEPTED).absolute(accepted);
    counter!(RECORDS_REJECTED).absolute(rejected);
    counter!(WARNINGS).absolute(warnings);
}

/// Middleware: counts each request and times it (to the response head;
/// a stream's lifetime is not its latency).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    counter!(HTTP_REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    histogram!(HTTP_DURATION, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
