//! `--http ADDR` for `practice node`: the HTTP API, dashboard and `/metrics` over the node's
//! claims. `HttpArgs` flattens into any node command; `start` builds the API context over a
//! running node and serves it until the node stops.

use crate::api::ingest::PostingIngestion;
use crate::api::metrics::HttpMetrics;
use crate::api::service::ClaimService;
use crate::api::statements::TestProcessor;
use crate::api::upload::{Ingestion, StoreOnlyIngestion};
use crate::api::ApiContext;
use crate::auth::connector::ConnectorKeys;
use crate::auth::token::TokenKey;
use anyhow::Context;
use practice_actors::ingest::registry::BatchRegistry;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

#[derive(clap::Args, Debug, Clone)]
pub struct HttpArgs {
    /// Serve the HTTP API, dashboard and /metrics on this address (e.g. 127.0.0.1:8080).
    #[arg(long)]
    pub http: Option<SocketAddr>,
}

/// The API context over `service`, with keys and stores from `data_dir`; `registries` are
/// gathered into `/metrics` beside the HTTP metrics.
pub fn context(
    service: Arc<dyn ClaimService>,
    data_dir: &Path,
    registries: Vec<prometheus::Registry>,
) -> anyhow::Result<Arc<ApiContext>> {
    let ingestion = Arc::new(StoreOnlyIngestion::new(data_dir.join("uploads")));
    context_with(service, data_dir, registries, ingestion)
}

/// `context` with the ingestion uploads go to.
pub fn context_with(
    service: Arc<dyn ClaimService>,
    data_dir: &Path,
    registries: Vec<prometheus::Registry>,
    ingestion: Arc<dyn Ingestion>,
) -> anyhow::Result<Arc<ApiContext>> {
    let keys = TokenKey::load(data_dir).context("loading the token key")?;
    let connectors = ConnectorKeys::load(data_dir).map_err(anyhow::Error::msg).context("loading connector keys")?;
    Ok(Arc::new(ApiContext {
        service,
        keys,
        connectors,
        processor: Arc::new(TestProcessor),
        ingestion,
        metrics: HttpMetrics::new(),
        extra_registries: registries,
        shutdown: tokio::sync::watch::channel(false).0,
    }))
}

/// A running API server; `stop` ends it (open event streams first) and waits.
pub struct HttpServer {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl HttpServer {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "http api stopped with an error"),
            Err(error) => tracing::error!(%error, "http api task failed"),
        }
    }
}

/// Serve the API over `node` on `address` (in the background), reading claims through
/// `service`; uploaded 999s find their claims through `batches`.
pub async fn start(
    node: practice_actors::Node,
    service: Arc<dyn ClaimService>,
    address: SocketAddr,
    data_dir: &Path,
    registry: prometheus::Registry,
    batches: Arc<dyn BatchRegistry>,
) -> anyhow::Result<HttpServer> {
    // Uploads post: stored, parsed, matched to this node's claims, sent to their actors.
    let ingestion = Arc::new(PostingIngestion::new(data_dir.join("uploads"), node, service.clone(), batches));
    let context = context_with(service, data_dir, vec![registry], ingestion)?;
    let listener =
        tokio::net::TcpListener::bind(address).await.with_context(|| format!("cannot listen on {address}"))?;
    let bound = listener.local_addr()?;
    tracing::info!(address = %bound, "http api listening");
    eprintln!("practice node: http api and dashboard on http://{bound}");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(crate::api::serve(context, listener, async {
        let _ = stopped.await;
    }));
    Ok(HttpServer { stop, task })
}
