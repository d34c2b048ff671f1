//! The HTTP API on a cluster: two real `practice node --nats … --http` processes share one
//! token key; every claim can be created, read and changed through either node. A command for
//! a shard the other node owns is forwarded to it over NATS, and each node's lists come from
//! the whole journal. An API whose tokens another node could not check is refused at start.

mod common;
mod http_process;

use common::Cluster;
use http_process::{http, practice, printed_address, token, ORG};
use practice_protocol::ids::{ClaimId, OrgId};
use practice_protocol::shard::{claim_ref, shard_of};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The address a node printed once its API listened.
fn api_address(cluster: &mut Cluster, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = cluster.node(id).log();
        if let Some(address) = printed_address(&log) {
            return address;
        }
        assert!(Instant::now() < deadline, "node {id} never served its API:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn every_cluster_node_serves_the_api_and_forwards_commands_to_the_owner() {
    let Some(mut cluster) = Cluster::start() else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // Both nodes and `practice token issue` sign with the same key.
    std::env::set_var("PRACTICE_TOKEN_KEY", http_process::KEY);
    let data = tempfile::tempdir().unwrap();
    for id in ["a", "b"] {
        let dir = data.path().join(id).display().to_string();
        cluster.start_node(id, &["--http", "127.0.0.1:0", "--data-dir", &dir]);
    }
    let holders = runtime.block_on(cluster.wait_balanced(&["a", "b"], Duration::from_secs(30)));
    let addresses: BTreeMap<&str, String> =
        ["a", "b"].into_iter().map(|id| (id, api_address(&mut cluster, id))).collect();
    let admin = token("80");
    for address in addresses.values() {
        wait_for("a node's API never became ready", || http(address, "GET", "/readyz", &admin, None).0 == 200);
    }

    // Claims created through node a until each node owns some: those of b's shards went to b.
    let org = OrgId(ORG.parse().unwrap());
    let fixture = include_str!("fixtures/encounter.json").replace("ORG_ID", ORG);
    let mut owners: BTreeMap<String, Vec<String>> = BTreeMap::new();
    while owners.values().map(Vec::len).min().unwrap_or(0) < 2 || owners.len() < 2 {
        assert!(owners.values().map(Vec::len).sum::<usize>() < 60, "claims never landed on both nodes");
        let encounter = fixture.replace("0f711e8a-76d9-4e18-9af9-9364d89395f1", &uuid::Uuid::new_v4().to_string());
        let (status, body) = http(&addresses["a"], "POST", "/api/v1/encounters", &admin, Some(&encounter));
        assert_eq!(status, 201, "{body}\n{}", cluster.logs_of_all());
        let claim = body.split("\"id\":\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        let shard = shard_of(&claim_ref(org, ClaimId(claim.parse().unwrap())), common::SHARDS);
        let owner = holders[&shard.0].clone().expect("every shard has an owner");
        owners.entry(owner).or_default().push(claim);
    }

    // Each claim read and voided through node b, whichever node owns it.
    for claim in owners.values().flatten() {
        let (status, body) = http(&addresses["b"], "GET", &format!("/api/v1/claims/{claim}"), &admin, None);
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"status\":\"Draft\""), "{body}");
        let void = format!("/api/v1/claims/{claim}/void");
        let (status, body) = http(&addresses["b"], "POST", &void, &admin, Some("{\"reason\":\"duplicate\"}"));
        assert_eq!(status, 200, "{body}");
        // The owner refuses a second, different change: one history, decided by one actor.
        let (status, _) = http(&addresses["a"], "POST", &void, &admin, Some("{\"reason\":\"again\"}"));
        assert_eq!(status, 409);
    }
    // Both nodes' lists follow the whole journal, not only their own shards.
    let all: Vec<&String> = owners.values().flatten().collect();
    for (id, address) in &addresses {
        wait_for(&format!("node {id}'s list never showed every voided claim"), || {
            let (_, list) = http(address, "GET", "/api/v1/claims?status=Voided", &admin, None);
            all.iter().all(|claim| list.contains(claim.as_str()))
        });
    }
    let report = runtime.block_on(cluster.verify());
    assert!(report.violations.is_empty(), "{report:?}");

    // An API whose tokens another node could not check is refused too.
    let keyless = practice()
        .args(["node", "--nats", &cluster.server.url(), "--node-id", "d", "--http", "127.0.0.1:0"])
        .env_remove("PRACTICE_TOKEN_KEY")
        .output()
        .unwrap();
    assert!(!keyless.status.success());
    assert!(String::from_utf8_lossy(&keyless.stderr).contains("PRACTICE_TOKEN_KEY"), "{keyless:?}");
}
