//! `practice node --nats URL --node-id ID [--shards 64]`: one node of a cluster. Without
//! `--nats` the node runs embedded (see `node.rs`).

use anyhow::Context;
use clap::Args;
use practice_nodes::cluster::node::{ClusterNode, NodeSettings};
use std::process::ExitCode;
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

pub fn run(
    nats: String,
    args: ClusterNodeArgs,
    shards: u16,
    metrics_addr: Option<std::net::SocketAddr>,
) -> anyhow::Result<ExitCode> {
    let node_id = args.node_id.context("--node-id is required with --nats")?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let settings = NodeSettings {
            nats_url: nats,
            node_id,
            shard_count: shards,
            lease_timeout: Duration::from_millis(args.lease_timeout_ms.max(200)),
            replicas: args.replicas,
            trust_fence_only: args.trust_fence_only,
        };
        let registry = prometheus::Registry::new();
        let node = ClusterNode::start(settings, &registry).await.context("starting the node")?;
        if let Some(address) = metrics_addr {
            super::node::serve_metrics(address, registry.clone()).await?;
        }
        node.run(shutdown_signal()).await.context("running the node")?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Ctrl-C or SIGTERM: give shards back and leave.
async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}
