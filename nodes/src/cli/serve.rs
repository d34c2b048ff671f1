//! `practice serve --http ADDR --data-dir DIR`: the HTTP API and dashboard over the in-process
//! claim service. `HttpArgs` is the `--http` flag set, ready to flatten into `practice node`.

use crate::api::local::LocalClaimService;
use crate::api::metrics::HttpMetrics;
use crate::api::service::ClaimService;
use crate::api::statements::{StatementStore, TestProcessor};
use crate::api::upload::StoreOnlyIngestion;
use crate::api::ApiContext;
use crate::auth::connector::ConnectorKeys;
use crate::auth::token::TokenKey;
use anyhow::Context;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(clap::Args, Debug, Clone)]
pub struct HttpArgs {
    /// Serve the HTTP API, dashboard and /metrics on this address (e.g. 127.0.0.1:8080).
    #[arg(long)]
    pub http: Option<SocketAddr>,
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Where the token key, connector keys and uploaded X12 files live.
    #[arg(long, default_value = "practice-data")]
    pub data_dir: PathBuf,
}

/// The API context over `service`, with keys and stores from `data_dir`.
pub fn context(
    service: Arc<dyn ClaimService>,
    data_dir: &Path,
    extra_registries: Vec<prometheus::Registry>,
) -> anyhow::Result<Arc<ApiContext>> {
    let keys = TokenKey::load(data_dir).context("loading the token key")?;
    let connectors = ConnectorKeys::load(data_dir).map_err(anyhow::Error::msg).context("loading connector keys")?;
    Ok(Arc::new(ApiContext {
        service,
        keys,
        connectors,
        statements: StatementStore::default(),
        processor: Arc::new(TestProcessor),
        ingestion: Arc::new(StoreOnlyIngestion::new(data_dir.join("uploads"))),
        metrics: HttpMetrics::new(),
        extra_registries,
        shutdown: tokio::sync::watch::channel(false).0,
    }))
}

/// Serve the API on `addr` until Ctrl-C.
pub async fn serve_http(context: Arc<ApiContext>, addr: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    tracing::info!(address = %listener.local_addr()?, "http api listening");
    eprintln!("practice: http api on http://{}", listener.local_addr()?);
    crate::api::serve(context, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .context("serving http")
}

pub fn run(args: ServeArgs) -> anyhow::Result<std::process::ExitCode> {
    let addr = args.http.http.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(async {
        let service: Arc<dyn ClaimService> = LocalClaimService::new();
        let context = context(service, &args.data_dir, Vec::new())?;
        serve_http(context, addr).await
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}
