//! `practice node --nats URL --node-id ID [--shards 64]`: one node of a cluster. Without
//! `--nats` the node runs embedded (see `node.rs`). With `--http` it serves the API; with a
//! clearinghouse link (`--org` and `--outbox/--inbox` or `--connector-nats`) every node may be
//! given the same link, and the one owning the practice's shard exchanges.

use super::exchange::{ClusterLink, Exchanges};
use crate::api::node::NodeClaimService;
use anyhow::Context;
use clap::Args;
use practice_actors::ingest::registry::BatchRegistry;
use practice_nodes::cluster::node::{ClusterNode, NodeSettings};
use practice_nodes::jetstream::registry::KvBatchRegistry;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The cluster options of `practice node`.
#[derive(Args, Debug)]
pub struct ClusterNodeArgs {
    /// Join a cluster through this NATS JetStream server instead of running embedded.
    #[arg(long, env = "PRACTICE_NATS")]
    pub nats: Option<String>,
    /// This node's id, unique in the cluster ([A-Za-z0-9_-]); needed with --nats.
    #[arg(long, env = "PRACTICE_NODE_ID")]
    pub node_id: Option<String>,
    /// A lease not renewed for this long passes to another node.
    #[arg(long, default_value_t = 5000)]
    pub lease_timeout_ms: u64,
    /// Stream and bucket replicas (3 or 5 in production).
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// Testing only: keep writing after the lease clock ran out, so only the epoch fence
    /// refuses a stale owner (the G6 test proves the fence alone is enough).
    #[arg(long, hide = true)]
    pub trust_fence_only: bool,
}

pub fn run(nats: String, args: ClusterNodeArgs, node_args: super::node::NodeArgs) -> anyhow::Result<ExitCode> {
    let node_id = args.node_id.context("--node-id is required with --nats")?;
    if node_args.http.http.is_some() {
        // Every node must check a token the same way, whichever node issued it.
        anyhow::ensure!(
            std::env::var_os(crate::auth::token::KEY_ENV).is_some(),
            "--http on a cluster node needs {}: every node has to verify tokens with the same key",
            crate::auth::token::KEY_ENV
        );
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        // Listening before the node starts: a SIGTERM from then on hands the shards back.
        let shutdown = super::signals::shutdown()?;
        let settings = NodeSettings {
            nats_url: nats,
            node_id,
            shard_count: node_args.shards,
            lease_timeout: Duration::from_millis(args.lease_timeout_ms.max(200)),
            replicas: args.replicas,
            trust_fence_only: args.trust_fence_only,
            max_live_actors: node_args.max_live_actors,
        };
        let registry = prometheus::Registry::new();
        let node = ClusterNode::start(settings, &registry).await.context("starting the node")?;
        if let Some(address) = node_args.metrics_addr {
            super::node::serve_metrics(address, registry.clone()).await?;
        }
        let (api, exchange) = match node_args.http.http.is_some() || node_args.exchange.enabled() {
            true => serve(&node, &node_args, registry, args.replicas).await?,
            false => (None, None),
        };
        let ran = node.run(shutdown).await.context("running the node");
        if let Some(exchange) = exchange {
            exchange.stop().await;
        }
        if let Some(api) = api {
            api.stop().await;
        }
        ran?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The clearinghouse exchange and the HTTP API, whichever are asked for. Claims are read from
/// the JetStream journal (every shard, so lists are complete); commands for other nodes'
/// shards are forwarded (`NatsForward`); the batch registry is in KV, so a 999 finds its claims
/// on any node.
async fn serve(
    node: &ClusterNode,
    node_args: &super::node::NodeArgs,
    registry: prometheus::Registry,
    replicas: usize,
) -> anyhow::Result<(Option<super::http::HttpServer>, Option<Exchanges>)> {
    let actors = node.actors().clone();
    let service = NodeClaimService::start_polling(actors.clone(), PROJECTION_POLL);
    let batches: Arc<dyn BatchRegistry> = Arc::new(
        KvBatchRegistry::open(node.client().clone(), replicas).await.context("opening the batch registry bucket")?,
    );
    let link = ClusterLink { client: node.client().clone(), replicas };
    let exchange = node_args
        .exchange
        .start(&actors, service.clone(), batches.clone(), &node_args.data_dir, Some(link), &registry)
        .await?;
    let api = match node_args.http.http {
        Some(address) => {
            Some(super::http::start(actors, service, address, &node_args.data_dir, registry, batches).await?)
        }
        None => None,
    };
    Ok((api, exchange))
}

/// How often the API's projection reads the journal for what other nodes appended.
const PROJECTION_POLL: Duration = Duration::from_secs(1);
