//! Observability at the edge: a request span (method, route, org, claim id, shard — never
//! PHI), Prometheus HTTP metrics (latency histogram and counts by route and status, claim
//! commands by outcome), `/metrics`, `/healthz` and `/readyz`.

use super::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};
use std::time::Instant;
use tracing::Instrument;

pub struct HttpMetrics {
    pub registry: Registry,
    latency: HistogramVec,
    requests: IntCounterVec,
    commands: IntCounterVec,
}

impl HttpMetrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let latency = HistogramVec::new(
            HistogramOpts::new("practice_http_request_duration_seconds", "HTTP request latency")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
            &["method", "route"],
        )
        .unwrap_or_else(unreachable_metric);
        let requests = IntCounterVec::new(
            Opts::new("practice_http_requests_total", "HTTP requests by route and status"),
            &["method", "route", "status"],
        )
        .unwrap_or_else(unreachable_metric);
        let commands = IntCounterVec::new(
            Opts::new("practice_api_claim_commands_total", "Claim commands sent through the API"),
            &["command", "outcome"],
        )
        .unwrap_or_else(unreachable_metric);
        for collector in [
            Box::new(latency.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(requests.clone()),
            Box::new(commands.clone()),
        ] {
            // Fresh registry, distinct names: registration cannot collide.
            let _ = registry.register(collector);
        }
        Self { registry, latency, requests, commands }
    }

    pub fn command(&self, command: &str, outcome: &str) {
        self.commands.with_label_values(&[command, outcome]).inc();
    }
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Metric definitions are constants; a bad one is a programming error caught by every test.
fn unreachable_metric<T>(error: prometheus::Error) -> T {
    panic!("metric definition is invalid: {error}")
}

/// The middleware: a span per request, then latency and status counts by matched route (the
/// template, not the raw path, so label cardinality stays bounded).
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let span = tracing::info_span!(
        "http",
        method = %method,
        route = %route,
        org = tracing::field::Empty,
        claim_id = tracing::field::Empty,
        shard = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16().to_string();
    span.record("status", &status);
    state.metrics.latency.with_label_values(&[&method, &route]).observe(started.elapsed().as_secs_f64());
    state.metrics.requests.with_label_values(&[&method, &route, &status]).inc();
    response
}

pub async fn render(State(state): State<AppState>) -> Response {
    let mut families = state.metrics.registry.gather();
    for registry in &state.extra_registries {
        families.extend(registry.gather());
    }
    let mut buffer = Vec::new();
    if TextEncoder::new().encode(&families, &mut buffer).is_err() {
        return (StatusCode::INTERNAL_SERVER_ERROR, "metrics encoding failed").into_response();
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], buffer).into_response()
}

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.service.ready() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}
