//! The HTTP API (axum 0.8): routes, shared state, and the server.
//!
//! Architecture invariant: handlers reach claims only through `ClaimService`; they never
//! decide a command themselves. Every request is scoped to its token's organization (G8):
//! lookups take the caller's org, and another org's id answers exactly like an unknown one.

pub mod billing;
pub mod claims;
pub mod client;
pub mod error;
pub mod ingest;
pub mod json;
pub mod local;
pub mod metrics;
pub mod node;
pub mod openapi;
pub mod projection;
pub mod reports;
pub mod sample;
pub mod service;
pub mod statements;
pub mod stream;
pub mod suspense;
pub mod upload;
pub mod views;

#[cfg(test)]
mod tests;

use crate::auth::connector::ConnectorKeys;
use crate::auth::token::TokenKey;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use metrics::HttpMetrics;
use service::ClaimService;
use statements::PaymentProcessor;
use std::net::SocketAddr;
use std::sync::Arc;
use upload::Ingestion;

/// JSON bodies above this are refused with 413 `payload_too_large`.
pub const JSON_BODY_LIMIT: usize = 256 * 1024;
/// X12 files from connectors may be large.
pub const UPLOAD_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Everything a handler may use.
pub struct ApiContext {
    pub service: Arc<dyn ClaimService>,
    pub keys: TokenKey,
    pub connectors: ConnectorKeys,
    pub processor: Arc<dyn PaymentProcessor>,
    pub ingestion: Arc<dyn Ingestion>,
    pub metrics: HttpMetrics,
    /// Gathered into `/metrics` beside the HTTP metrics (the backbone's registry).
    pub extra_registries: Vec<prometheus::Registry>,
    /// Set when the server stops, so open event streams end and shutdown is not held up.
    pub shutdown: tokio::sync::watch::Sender<bool>,
}

pub type AppState = Arc<ApiContext>;

pub fn router(context: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/encounters", post(claims::create_from_encounter))
        .route("/api/v1/claims", post(claims::create).get(claims::list))
        .route("/api/v1/claims/{claim_id}", get(claims::get_one))
        .route("/api/v1/claims/{claim_id}/history", get(claims::history))
        .route("/api/v1/claims/{claim_id}/lines", get(claims::lines).put(claims::amend_lines))
        .route("/api/v1/claims/{claim_id}/scrub", post(claims::scrub))
        .route("/api/v1/claims/{claim_id}/sign-off", post(claims::sign_off))
        .route("/api/v1/claims/{claim_id}/submit", post(claims::submit))
        .route("/api/v1/claims/{claim_id}/void", post(claims::void))
        .route("/api/v1/claims/{claim_id}/status-request", post(claims::request_status))
        .route("/api/v1/claims/{claim_id}/appeal", post(claims::appeal))
        .route("/api/v1/claims/{claim_id}/write-off", post(claims::write_off))
        .route("/api/v1/payments", post(billing::post_payment).get(billing::list_payments))
        .route("/api/v1/denials", get(billing::list_denials))
        .route("/api/v1/suspense", get(suspense::list))
        .route("/api/v1/suspense/{item_id}/resolve", post(suspense::resolve))
        .route("/api/v1/statements", post(statements::generate).get(statements::list))
        .route("/api/v1/statements/{statement_id}", get(statements::get_one))
        .route("/api/v1/statements/{statement_id}/payments", post(statements::collect))
        .route("/api/v1/statements/{statement_id}/pay", post(statements::pay_online))
        .route("/api/v1/statements/{statement_id}/plan", post(statements::plan))
        .route("/api/v1/reports/aging", get(reports::aging))
        .route("/api/v1/reports/denials", get(reports::denials))
        .route("/api/v1/reports/open-balances", get(reports::open_balances))
        .route("/api/v1/stream/claims", get(stream::claims))
        .route("/openapi.json", get(openapi::document))
        .route("/metrics", get(metrics::render))
        .route("/healthz", get(metrics::healthz))
        .route("/readyz", get(metrics::readyz))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT));
    let uploads = Router::new()
        .route("/api/v1/connector/x12", post(upload::upload))
        .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT));
    api.merge(uploads)
        .merge(crate::dashboard::router())
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(context.clone(), metrics::track))
        .with_state(context)
}

async fn fallback() -> error::ApiError {
    error::ApiError::not_found("route")
}

/// Serve until `shutdown` resolves, then finish the requests in flight.
pub async fn serve(
    context: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stopping = context.shutdown.clone();
    let app = router(context);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            // End the live streams; graceful shutdown waits for open responses.
            let _ = stopping.send(true);
        })
        .await
}
