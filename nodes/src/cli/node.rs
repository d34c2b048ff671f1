//! `practice node`: one node on the embedded journal, every shard, the five module
//! consumers; runs until SIGINT or SIGTERM, then shuts down gracefully (consumers store
//! their positions, live actors snapshot, the journal flushes). With `--http` it serves the API
//! and dashboard; with a connector (`--org` and `--outbox`/`--inbox` or `--connector-nats`) it
//! sends submitted claims to the clearinghouse and posts its answers (`crate::exchange`).

use super::embedded::{open_journal_with_cache, runtime, start_node_with};
use crate::api::node::NodeClaimService;
use crate::api::service::ClaimService;
use anyhow::Context;
use clap::Args;
use practice_actors::ingest::registry::{BatchRegistry, SledBatchRegistry};
use practice_actors::module::{EventTally, ModuleKind};
use practice_actors::NodeConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct NodeArgs {
    /// Where the embedded journal lives.
    #[arg(long, env = "PRACTICE_DATA_DIR", default_value = "practice-data")]
    pub data_dir: PathBuf,
    /// Logical shards of a new journal (an existing one keeps its own).
    #[arg(long, default_value_t = practice_protocol::shard::DEFAULT_SHARD_COUNT)]
    pub shards: u16,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9464).
    #[arg(long)]
    pub metrics_addr: Option<SocketAddr>,
    /// Hold at most this many entity actors in memory: past it, each shard passivates its
    /// least recently used (default: no bound but the idle time).
    #[arg(long)]
    pub max_live_actors: Option<usize>,
    /// Sled's page cache for the embedded journal, in MiB: memory spent to rehydrate claims
    /// without reading the disk (1,000,000 claims, 5 % active, fit in 1 GiB with 64).
    #[arg(long, default_value_t = 64)]
    pub journal_cache_mib: u64,
    #[command(flatten)]
    pub http: super::http::HttpArgs,
    #[command(flatten)]
    pub exchange: super::exchange::ExchangeArgs,
}

pub fn run(args: NodeArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(run_embedded(args))
}

async fn run_embedded(args: NodeArgs) -> anyhow::Result<ExitCode> {
    // Listening from the start: a SIGTERM during start-up, or the moment the API address or
    // "ready" is printed, ends in a graceful stop once the node is up.
    let shutdown = super::signals::shutdown()?;
    let journal = open_journal_with_cache(&args.data_dir, args.shards, args.journal_cache_mib.max(1) << 20)?;
    let registry = prometheus::Registry::new();
    let config = NodeConfig { max_live_actors: args.max_live_actors, ..NodeConfig::default() };
    let node = start_node_with(journal.clone(), &registry, config).await?;
    for module in ModuleKind::ALL {
        node.start_module(Box::new(EventTally::new(module)), None).await?;
    }
    if let Some(address) = args.metrics_addr {
        serve_metrics(address, registry.clone()).await?;
    }
    // Which claims left in which 837, for the 999s: beside the journal.
    let batches: Arc<dyn BatchRegistry> =
        Arc::new(SledBatchRegistry::open(&args.data_dir.join("batches")).context("opening the batch registry")?);
    let service: Option<Arc<dyn ClaimService>> = (args.http.http.is_some() || args.exchange.enabled())
        .then(|| NodeClaimService::start(node.clone()) as Arc<dyn ClaimService>);
    let api = match (args.http.http, &service) {
        (Some(address), Some(service)) => Some(
            super::http::start(
                node.clone(),
                service.clone(),
                address,
                &args.data_dir,
                registry.clone(),
                batches.clone(),
            )
            .await?,
        ),
        _ => None,
    };
    let exchange = match &service {
        Some(service) => {
            args.exchange.start(&node, service.clone(), batches.clone(), &args.data_dir, None, &registry).await?
        }
        None => None,
    };
    tracing::info!(shards = node.owned_shards().len(), "node ready");
    eprintln!("practice node: {} shards on {}; ready", node.owned_shards().len(), args.data_dir.display());
    shutdown.await;
    eprintln!("practice node: shutting down");
    if let Some(exchange) = exchange {
        exchange.stop().await;
    }
    if let Some(api) = api {
        api.stop().await;
    }
    node.shutdown().await;
    journal.close();
    eprintln!("practice node: stopped");
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn serve_metrics(address: SocketAddr, registry: prometheus::Registry) -> anyhow::Result<()> {
    use prometheus::Encoder;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let registry = registry.clone();
            async move {
                let mut body = Vec::new();
                let encoded = prometheus::TextEncoder::new().encode(&registry.gather(), &mut body);
                match encoded {
                    Ok(()) => (axum::http::StatusCode::OK, body),
                    Err(error) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, error.to_string().into_bytes()),
                }
            }
        }),
    );
    let listener =
        tokio::net::TcpListener::bind(address).await.with_context(|| format!("cannot listen on {address}"))?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "metrics server stopped");
        }
    });
    Ok(())
}
