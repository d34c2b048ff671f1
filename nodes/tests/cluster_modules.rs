//! Module consumers on cluster nodes, against a real nats-server with in-process cluster
//! nodes (each with its own metrics registry, so every event a module engine was shown on
//! any node, before or after a hand-over, can be added up). Load runs while a second node
//! joins, the first leaves, and the first comes back; afterwards every module's stored
//! position per shard is the shard's head, and each module's `EventTally` engines, summed
//! over all node lifetimes, saw every event in the journal exactly once. Per-shard lag gauges
//! exist on a node for exactly the shards it holds.

mod common;

use common::{Cluster, SHARDS};
use practice_actors::journal::Journal;
use practice_actors::module::ModuleKind;
use practice_nodes::cluster::load::{run_load, LoadPlan};
use practice_nodes::cluster::node::{ClusterNode, NodeSettings};
use practice_protocol::shard::ShardId;
use practice_tests::threads::{niceness, own_niceness};
use prometheus::Registry;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Long enough that a loaded CI machine does not lose leases mid-test: this test is about
/// graceful hand-overs (a lost lease redelivers by design: consumers are at least once).
const LEASE_TIMEOUT: Duration = Duration::from_secs(10);

struct InProcessNode {
    registry: Registry,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

async fn start_node(cluster: &Cluster, id: &str) -> InProcessNode {
    let settings = NodeSettings {
        nats_url: cluster.server.url(),
        node_id: id.to_string(),
        shard_count: SHARDS,
        lease_timeout: LEASE_TIMEOUT,
        replicas: 1,
        trust_fence_only: false,
        max_live_actors: None,
    };
    let registry = Registry::new();
    let node = ClusterNode::start(settings, &registry).await.expect("cluster node starts");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        node.run(async {
            let _ = stopped.await;
        })
        .await
        .expect("cluster node runs");
    });
    InProcessNode { registry, stop, task }
}

async fn stop_node(node: InProcessNode) -> Registry {
    let _ = node.stop.send(());
    tokio::time::timeout(Duration::from_secs(60), node.task).await.expect("node stops in time").expect("node task");
    node.registry
}

async fn load(cluster: &Cluster, first: u64, claims: u64) {
    let plan = LoadPlan {
        seed: 21,
        first,
        claims,
        concurrency: 16,
        shard_count: SHARDS,
        deadline: Duration::from_secs(60),
        duplicate: false,
    };
    let report = run_load(&cluster.client().await, &plan).await;
    assert_eq!(report.failed + report.rejected, 0, "load errors: {:?}", report.errors);
}

/// `practice_module_events_total` of one module in one registry, over every event name.
fn events_seen(registry: &Registry, module: &str) -> u64 {
    let mut total = 0;
    for family in registry.gather() {
        if family.name() != "practice_module_events_total" {
            continue;
        }
        for metric in family.get_metric() {
            if metric.get_label().iter().any(|label| label.name() == "module" && label.value() == module) {
                total += metric.get_counter().get_value() as u64;
            }
        }
    }
    total
}

/// The shards with a `practice_consumer_lag_events` gauge per consumer, and the largest lag.
fn lag_gauges(registry: &Registry) -> (BTreeMap<String, BTreeSet<u16>>, i64) {
    let mut shards: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    let mut worst = 0;
    for family in registry.gather() {
        if family.name() != "practice_consumer_lag_events" {
            continue;
        }
        for metric in family.get_metric() {
            let label = |name: &str| {
                metric.get_label().iter().find(|label| label.name() == name).map(|label| label.value().to_string())
            };
            let (Some(consumer), Some(shard)) = (label("consumer"), label("shard")) else { continue };
            shards.entry(consumer).or_default().insert(shard.parse().expect("numeric shard label"));
            worst = worst.max(metric.get_gauge().get_value() as i64);
        }
    }
    (shards, worst)
}

/// Wait until every module's stored position per shard is the shard's head.
async fn wait_positions_at_head(cluster: &Cluster, within: Duration) {
    let journal = cluster.journal().await;
    let deadline = Instant::now() + within;
    loop {
        let mut behind = Vec::new();
        for shard in 0..SHARDS {
            let head = journal.shard_head(ShardId(shard)).await.expect("head").expect("JetStream knows its head");
            for module in ModuleKind::ALL {
                let position = journal.load_position(module.consumer_name(), ShardId(shard)).await.expect("position");
                assert!(position <= head, "{module:?} shard {shard}: position {position} past head {head}");
                if position < head {
                    behind.push((module.consumer_name(), shard, head - position));
                }
            }
        }
        if behind.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "consumers still behind after {within:?}: {behind:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_positions_follow_the_leases_and_count_every_event_once() {
    // Warnings (LeaseLost, positions not stored) explain a failure on a loaded machine.
    let _ = tracing_subscriber::fmt().with_env_filter("warn").with_test_writer().try_init();
    let Some(cluster) = Cluster::start() else { return };
    let balance = Duration::from_secs(60);

    let a = start_node(&cluster, "a").await;
    cluster.wait_balanced(&["a"], balance).await;
    // The consumers run on a thread of their own at a lower priority than the commands'.
    let own = own_niceness();
    assert_eq!(module_threads(), vec![own.max(practice_nodes::background::NICENESS)]);
    load(&cluster, 0, 40).await;

    // A second node joins while claims flow: half the shards change hands.
    let b = start_node(&cluster, "b").await;
    load(&cluster, 40, 40).await;
    cluster.wait_balanced(&["a", "b"], balance).await;
    load(&cluster, 80, 20).await;

    // The first node leaves (gives its shards back), then comes back with a fresh memory.
    let first_a = stop_node(a).await;
    cluster.wait_balanced(&["b"], balance).await;
    load(&cluster, 100, 20).await;
    let a = start_node(&cluster, "a").await;
    cluster.wait_balanced(&["a", "b"], balance).await;
    load(&cluster, 120, 20).await;

    wait_positions_at_head(&cluster, Duration::from_secs(120)).await;
    let report = cluster.verify().await;
    assert!(report.violations.is_empty(), "violations:\n{report}");
    assert_eq!(report.entities.get("claim"), Some(&140), "{report}");

    // Lag gauges: each live node has one per module for exactly the shards it holds, all 0.
    let holders = cluster.holders().await;
    for (id, node) in [("a", &a), ("b", &b)] {
        let owned: BTreeSet<u16> =
            holders.iter().filter(|(_, holder)| holder.as_deref() == Some(id)).map(|(shard, _)| *shard).collect();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (gauges, worst) = lag_gauges(&node.registry);
            let expected: BTreeMap<String, BTreeSet<u16>> =
                ModuleKind::ALL.iter().map(|module| (module.consumer_name().to_string(), owned.clone())).collect();
            if gauges == expected && worst == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "node {id} lag gauges {gauges:?} (worst {worst}), owns {owned:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    let second_a = stop_node(a).await;
    let last_b = stop_node(b).await;
    for module in ModuleKind::ALL {
        let name = module.consumer_name();
        let seen: Vec<u64> =
            [&first_a, &last_b, &second_a].iter().map(|registry| events_seen(registry, name)).collect();
        assert_eq!(
            seen.iter().sum::<u64>(),
            report.events,
            "{name}: events seen per node lifetime (a, b, a again) {seen:?}, journal holds {}",
            report.events
        );
        assert!(seen.iter().all(|count| *count > 0), "{name}: a node lifetime saw nothing: {seen:?}");
    }
    // The module consumers' reads were answered by each node's event feed (the server only
    // for reads that started before a node's feed did).
    for (lifetime, registry) in [("a", &first_a), ("b", &last_b), ("a again", &second_a)] {
        let window = shard_reads(registry, "window");
        assert!(
            window > 0,
            "node {lifetime}: no shard read came from the event feed (server: {})",
            shard_reads(registry, "server")
        );
    }
}

/// `practice_journal_shard_reads_total` of one source in one registry.
fn shard_reads(registry: &Registry, source: &str) -> u64 {
    let family = registry.gather().into_iter().find(|family| family.name() == "practice_journal_shard_reads_total");
    let Some(family) = family else { return 0 };
    family
        .get_metric()
        .iter()
        .filter(|metric| metric.get_label().iter().any(|label| label.name() == "source" && label.value() == source))
        .map(|metric| metric.get_counter().get_value() as u64)
        .sum()
}

/// The niceness of each of this process's module consumer threads (names are cut at 15 bytes).
fn module_threads() -> Vec<i32> {
    let tasks = std::fs::read_dir("/proc/self/task").expect("this process's threads");
    let mut found = Vec::new();
    for task in tasks.flatten() {
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if name.trim_end() == "practice-module" {
            found.push(niceness(&task.path()));
        }
    }
    found
}
